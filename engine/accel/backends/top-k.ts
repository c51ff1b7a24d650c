// Cosine top-k: for each query row, the k candidate rows most similar to it, best first (ties go
// to the lower index, so the answer does not depend on how calls were batched). Each row keeps
// its best k in a heap as the candidates go by, rather than sorting all of them: a full sort of
// 131,072 scores per row, with a comparator, cost one call 6.4 s of a pool thread for a
// quarter-megabyte input (one dimension), holding every other tenant's calls behind it.

export interface TopK {
  indices: Int32Array<ArrayBuffer>;
  scores: Float32Array<ArrayBuffer>;
  k: number;
}

/**
 * Work a call asks for, in multiply-adds: the dot products, plus what each candidate costs per
 * query row whatever its dimensions: its score and the comparison with the heap's worst (8), and
 * a sift down the heap, which candidates in rising order of score each take (4 a level). A probe
 * counting only the 8 found a call within the bound taking 3.5 s at k = 65,536.
 */
export function topKWork(q: number, c: number, dims: number, k = 1): number {
  return q * c * (dims + 8 + 4 * Math.ceil(Math.log2(Math.min(k, c) + 1)));
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
  // A min-heap of the best kk so far, worst at its root: lower score, or the higher index on a tie.
  const heapIndex = new Int32Array(kk);
  const heapScore = new Float64Array(kk);
  const worse = (a: number, b: number) => heapScore[a]! < heapScore[b]! || (heapScore[a] === heapScore[b] && heapIndex[a]! > heapIndex[b]!);
  const swap = (a: number, b: number) => {
    const i = heapIndex[a]!, s = heapScore[a]!;
    heapIndex[a] = heapIndex[b]!; heapScore[a] = heapScore[b]!;
    heapIndex[b] = i; heapScore[b] = s;
  };
  const siftDown = (from: number, size: number) => {
    for (let at = from; ;) {
      const left = 2 * at + 1, right = left + 1;
      let least = at;
      if (left < size && worse(left, least)) least = left;
      if (right < size && worse(right, least)) least = right;
      if (least === at) return;
      swap(at, least);
      at = least;
    }
  };
  for (let i = 0; i < q; i++) {
    let qn = 0;
    for (let d = 0; d < dims; d++) qn += query[i * dims + d]! ** 2;
    qn = Math.sqrt(qn);
    let size = 0;
    for (let j = 0; j < c; j++) {
      let dot = 0;
      for (let d = 0; d < dims; d++) dot += query[i * dims + d]! * candidates[j * dims + d]!;
      const score = qn === 0 || norms[j] === 0 ? 0 : dot / (qn * norms[j]!);
      if (size < kk) {
        // Sift up: candidates come in index order, so on a tie the newcomer is the worse.
        let at = size++;
        heapIndex[at] = j; heapScore[at] = score;
        while (at > 0) {
          const parent = (at - 1) >> 1;
          if (!worse(at, parent)) break;
          swap(at, parent);
          at = parent;
        }
      } else if (score > heapScore[0]!) {
        // Better than the worst kept (an equal score comes later, so it is not).
        heapIndex[0] = j; heapScore[0] = score;
        siftDown(0, kk);
      }
    }
    // Best first: take the worst off the root into the last free place, kk times.
    for (let end = kk - 1; end >= 0; end--) {
      indices[i * kk + end] = heapIndex[0]!;
      scores[i * kk + end] = heapScore[0]!;
      heapIndex[0] = heapIndex[end]!; heapScore[0] = heapScore[end]!;
      siftDown(0, end);
    }
  }
  return { indices, scores, k: kk };
}
