// Cosine top-k: for each query row, the k candidate rows most similar to it, best first (ties go
// to the lower index, so the answer does not depend on how calls were batched).

export interface TopK {
  indices: Int32Array<ArrayBuffer>;
  scores: Float32Array<ArrayBuffer>;
  k: number;
}

export function cosineTopK(query: Float32Array, candidates: Float32Array, dims: number, k: number): TopK {
  const q = query.length / dims;
  const c = candidates.length / dims;
  const kk = Math.min(k, c);
  const norms = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    let s = 0;
    for (let d = 0; d < dims; d++) s += candidates[j * dims + d]! ** 2;
    norms[j] = Math.sqrt(s);
  }
  const indices = new Int32Array(q * kk);
  const scores = new Float32Array(q * kk);
  const all = new Float64Array(c);
  const order = Array.from({ length: c }, (_, j) => j);
  for (let i = 0; i < q; i++) {
    let qn = 0;
    for (let d = 0; d < dims; d++) qn += query[i * dims + d]! ** 2;
    qn = Math.sqrt(qn);
    for (let j = 0; j < c; j++) {
      let dot = 0;
      for (let d = 0; d < dims; d++) dot += query[i * dims + d]! * candidates[j * dims + d]!;
      all[j] = qn === 0 || norms[j] === 0 ? 0 : dot / (qn * norms[j]!);
    }
    order.sort((a, b) => all[b]! - all[a]! || a - b);
    for (let r = 0; r < kk; r++) {
      indices[i * kk + r] = order[r]!;
      scores[i * kk + r] = all[order[r]!]!;
    }
  }
  return { indices, scores, k: kk };
}
