// The many-functions benchmark on a tiny load: both servers (gated and not) serve every function
// without an error, and the report has a row per count and mode (figures are never asserted).
import { describe, expect, it } from 'vitest';
import { manyFunctions } from './many-functions.ts';

describe('bench:functions', () => {
  it('serves load spread over several functions with and without the gate and reports each', async () => {
    const report = await manyFunctions(['--functions', '1,6', '--duration', '1', '--warmup', '0.5', '--connections', '12']) as
      { rows: { functions: number; mode: string; reqPerSec: number; non2xx: number; errors: number }[] };
    expect(report.rows.map((r) => `${r.functions}/${r.mode}`)).toEqual(['1/gated (default)', '1/no gate', '6/gated (default)', '6/no gate']);
    for (const row of report.rows) expect(row).toMatchObject({ reqPerSec: expect.any(Number), non2xx: 0, errors: 0 });
    expect(report.rows.every((r) => r.reqPerSec > 0)).toBe(true);
  }, 90_000);
});
