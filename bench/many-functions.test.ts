// The many-functions benchmark on a tiny load: both servers (gated and not) serve every function
// without an error, and the report has a row per count and mode (figures are never asserted).
import { describe, expect, it } from 'vitest';
import { manyFunctions } from './many-functions.ts';

describe('bench:functions', () => {
  it('serves load spread over several functions with and without the gate and reports each', async () => {
    // Two connections: enough to have several functions busy at once without starving the tests
    // that run beside this one.
    const report = await manyFunctions(['--functions', '4', '--duration', '1', '--warmup', '0.5', '--connections', '2']) as
      { rows: { functions: number; mode: string; reqPerSec: number; non2xx: number; errors: number }[] };
    expect(report.rows.map((r) => `${r.functions}/${r.mode}`)).toEqual(['4/gated (default)', '4/no gate']);
    for (const row of report.rows) expect(row).toMatchObject({ reqPerSec: expect.any(Number), non2xx: 0, errors: 0 });
    expect(report.rows.every((r) => r.reqPerSec > 0)).toBe(true);
  }, 120_000);
});
