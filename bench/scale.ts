// Every benchmark runs full size by default, and tiny when ISLET_BENCH_TINY=1 (`npm run bench --
// --tiny`, and the suite's test): a second or a handful of functions, enough to prove it runs and
// prints well-formed JSON, never enough to quote. A new benchmark takes its defaults from here.
export const TINY = process.env.ISLET_BENCH_TINY === '1';

/**
 * Tiny load tests also cap the load they offer (requests/s over all connections, autocannon's
 * `overallRate`): flat out, they would starve whatever runs beside them, `npm test` included.
 */
export const TINY_LOAD = TINY ? { overallRate: 300 } : {};

/** The default for a flag: `full` normally, `tiny` under ISLET_BENCH_TINY=1. */
export function sized(full: string, tiny: string): string {
  return TINY ? tiny : full;
}
