// The nearest-rank percentile the benches quote (p in 0..1) of an ascending list; 0 for none.
export function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]! : 0;
}

/** The run whose `key` is the median of `runs` (the lower one of an even count), for repeated rounds. */
export function medianBy<T>(runs: T[], key: (run: T) => number): T {
  return [...runs].sort((a, b) => key(a) - key(b))[Math.floor((runs.length - 1) / 2)]!;
}
