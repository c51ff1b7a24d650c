// The heap-based top-k against the obvious reference (score every candidate, sort them all), on
// inputs with many ties, and the work bound that counts candidates as well as dimensions.
import { describe, expect, it } from 'vitest';
import { ACCEL_DEFAULTS } from '../../limits.ts';
import { cosineTopK, topKWork } from './top-k.ts';

function reference(query: Float32Array, candidates: Float32Array, dims: number, k: number) {
  const q = query.length / dims, c = candidates.length / dims, kk = Math.min(k, c);
  const norm = (a: Float32Array, row: number) => Math.sqrt(Array.from({ length: dims }, (_, d) => a[row * dims + d]! ** 2).reduce((s, x) => s + x, 0));
  const indices: number[] = [], scores: number[] = [];
  for (let i = 0; i < q; i++) {
    const all = Array.from({ length: c }, (_, j) => {
      let dot = 0;
      for (let d = 0; d < dims; d++) dot += query[i * dims + d]! * candidates[j * dims + d]!;
      const qn = norm(query, i), cn = norm(candidates, j);
      return qn === 0 || cn === 0 ? 0 : dot / (qn * cn);
    });
    const order = all.map((_, j) => j).sort((a, b) => all[b]! - all[a]! || a - b).slice(0, kk);
    indices.push(...order);
    scores.push(...order.map((j) => Math.fround(all[j]!)));
  }
  return { indices, scores, k: kk };
}

describe('cosineTopK', () => {
  it('gives the k best candidates per row, best first, ties to the lower index, as a full sort does', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const [q, c, dims, k] of [[3, 50, 4, 5], [2, 40, 1, 40], [4, 30, 2, 100], [1, 64, 3, 1], [2, 9, 2, 8]] as const) {
      // Few distinct values, so that many scores tie; a zero row scores 0 everywhere.
      const query = Float32Array.from({ length: q * dims }, () => Math.floor(random() * 3) - 1);
      const candidates = Float32Array.from({ length: c * dims }, () => Math.floor(random() * 3) - 1);
      const got = cosineTopK(query, candidates, dims, k);
      expect({ indices: [...got.indices], scores: [...got.scores], k: got.k }, `${q}×${c}×${dims} k=${k}`).toEqual(reference(query, candidates, dims, k));
    }
  });

  it('counts each candidate\'s own cost in the work bound: one dimension does not make a huge call cheap', () => {
    // The probe's call: 1,024 rows against 131,072 one-dimensional candidates, 6.4 s with a full sort.
    expect(topKWork(1024, 131_072, 1)).toBeGreaterThan(ACCEL_DEFAULTS.maxWorkPerCall);
    expect(topKWork(64, 1024, 384, 10)).toBeLessThan(ACCEL_DEFAULTS.maxWorkPerCall);
    // Candidates in rising order each sift down the heap: a second probe's call within the first
    // bound took 3.5 s at k = 65,536 (6 rows × 2,097,144 candidates × 2 dimensions).
    expect(topKWork(6, 2_097_144, 2, 65_536)).toBeGreaterThan(ACCEL_DEFAULTS.maxWorkPerCall);
    expect(topKWork(6, 2_097_144, 2, 1)).toBeGreaterThan(6 * 2_097_144 * (2 + 8));
  });
});
