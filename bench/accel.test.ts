// The accelerator bench runs and reports well-formed figures (on a tiny duration; never asserted as a benchmark).
import { expect, it } from 'vitest';
import { benchAccel } from './accel.ts';

it('bench:accel runs every row, batching on and off, and reports them', async () => {
  const report = await benchAccel(['--duration', '0.15', '--rounds', '1', '--warmup', '0', '--callers', '1,8']);
  expect(report).toMatchObject({ bench: 'accel', model: 'mlp-bench', maxBatch: 32 });
  // No GPU here (were there one, "auto" could choose it: the device column says where each ran).
  expect(report.rows.map((r) => [r.workload, r.callers, String(r.device).replace('webgpu', 'cpu')])).toEqual([
    ['mlp', 1, 'cpu (auto)'], ['mlp', 8, 'cpu (auto)'], ['embed', 1, 'cpu'], ['embed', 8, 'cpu'], ['env-mlp', 1, 'cpu (auto)'], ['env-mlp', 8, 'cpu (auto)'],
  ]);
  for (const row of report.rows as any[]) {
    expect(row.batched.calls).toBeGreaterThan(0);
    expect(row.unbatched.calls).toBeGreaterThan(0);
    expect(row.batched.p99Ms).toBeGreaterThanOrEqual(row.batched.p50Ms);
    expect(row.speedup).toBeGreaterThan(0);
  }
});

it('bench:accel runs the MLP once per device asked for, and the embedder once', async () => {
  const report = await benchAccel(['--duration', '0.1', '--rounds', '1', '--warmup', '0', '--callers', '2', '--workloads', 'mlp,embed', '--devices', 'auto,cpu']);
  expect(report.rows.map((r) => [r.workload, String(r.device).replace('webgpu', 'cpu')])).toEqual([['mlp', 'cpu (auto)'], ['embed', 'cpu'], ['mlp', 'cpu']]);
  await expect(benchAccel(['--duration', '0.1', '--model', 'gpt-9'])).rejects.toThrow(/unknown model "gpt-9" \(known: mlp-classifier, mlp-bench, mlp-large\)/);
});
