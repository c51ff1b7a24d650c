// The accelerator bench runs and reports well-formed figures (on a tiny duration; never asserted as a benchmark).
import { expect, it } from 'vitest';
import { benchAccel } from './accel.ts';

it('bench:accel runs every row, batching on and off, and reports them', async () => {
  const report = await benchAccel(['--duration', '0.15', '--rounds', '1', '--warmup', '0', '--callers', '1,8']);
  expect(report).toMatchObject({ bench: 'accel', device: 'cpu', maxBatch: 32 });
  expect(report.rows.map((r) => [r.workload, r.callers])).toEqual([['mlp', 1], ['mlp', 8], ['embed', 1], ['embed', 8], ['env-mlp', 1], ['env-mlp', 8]]);
  for (const row of report.rows as any[]) {
    expect(row.batched.calls).toBeGreaterThan(0);
    expect(row.unbatched.calls).toBeGreaterThan(0);
    expect(row.batched.p99Ms).toBeGreaterThanOrEqual(row.batched.p50Ms);
    expect(row.speedup).toBeGreaterThan(0);
  }
});
