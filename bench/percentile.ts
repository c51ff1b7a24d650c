// The nearest-rank percentile the benches quote (p in 0..1) of an ascending list; 0 for none.
export function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]! : 0;
}
