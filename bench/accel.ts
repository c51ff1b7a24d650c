// The accelerator pool under load: N callers (1, 8, 64) each call a model in a loop for a fixed
// time, with dynamic batching on and off, side by side in one run (the same machine, the same
// minute). Workloads: "mlp", the ONNX MLP from fixtures/accel (256 → 512 → 512 → 16, generated
// here, run by onnxruntime on the CPU: a batch is one matrix product) and "embed", the built-in
// hashing text embedder (pure JavaScript, where batching only saves the hops between threads).
// Callers call the pool directly, as env.AI's host side does; tenants rotate over 8 names.
// A benchmark, not a test: `npm run bench:accel -- [--duration 3] [--rounds 3] [--callers 1,8,64] [--json out.json]`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AccelPool } from '../engine/accel/index.ts';
import type { TensorMap } from '../engine/accel/index.ts';
import { writeFixtureModels } from '../fixtures/accel/make-models.ts';

interface Workload {
  name: string;
  model: string;
  /** A fresh input for call `i` (the pool takes ownership of its buffers). */
  input(i: number): TensorMap;
}

const FEATURES = 256;
const ROWS = Array.from({ length: 64 }, (_, i) => Float32Array.from({ length: FEATURES }, (_, j) => Math.sin(i * 13 + j)));
const TEXTS = Array.from({ length: 64 }, (_, i) => `request ${i}: summarise the quarterly report on topic ${i % 9} for the board`);

const WORKLOADS: Workload[] = [
  { name: 'mlp', model: 'mlp', input: (i) => ({ input: { dtype: 'float32', shape: [1, FEATURES], data: ROWS[i % 64]!.slice().buffer } }) },
  { name: 'embed', model: '@islet/embed-text', input: (i) => ({ text: { dtype: 'string', shape: [1], data: [TEXTS[i % 64]!] } }) },
];

type Measured = Awaited<ReturnType<typeof load>> & { meanBatch: number };

function median(runs: Measured[]): Measured {
  return [...runs].sort((a, b) => a.callsPerSec - b.callsPerSec)[Math.floor((runs.length - 1) / 2)]!;
}

function modelStats(pool: AccelPool, model: string): { calls: number; batches: number } {
  return (pool.status().models as Record<string, { calls: number; batches: number }>)[model]!;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]! : 0;
}

/** `callers` loops calling `workload` for `ms`; answers calls/s and latency percentiles. */
async function load(pool: AccelPool, workload: Workload, callers: number, ms: number) {
  const latencies: number[] = [];
  const end = performance.now() + ms;
  let i = 0;
  await Promise.all(Array.from({ length: callers }, async (_, c) => {
    while (performance.now() < end) {
      const t = performance.now();
      await pool.run({ tenant: `tenant-${c % 8}`, model: workload.model, inputs: workload.input(i++), maxPending: 1024 });
      latencies.push(performance.now() - t);
    }
  }));
  latencies.sort((a, b) => a - b);
  return { calls: latencies.length, callsPerSec: Math.round(latencies.length / (ms / 1000)), p50Ms: +percentile(latencies, 0.5).toFixed(3), p99Ms: +percentile(latencies, 0.99).toFixed(3) };
}

export async function benchAccel(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '0.5' },
      callers: { type: 'string', default: '1,8,64' },
      workloads: { type: 'string', default: 'mlp,embed' },
      workers: { type: 'string' },
      'max-batch': { type: 'string', default: '32' },
      'max-wait-us': { type: 'string', default: '0' },
      json: { type: 'string' },
    },
  });
  const ms = Number(values.duration) * 1000;
  const rounds = Number(values.rounds);
  const warmupMs = Number(values.warmup) * 1000;
  const callerCounts = values.callers.split(',').map(Number);
  const workloads = WORKLOADS.filter((w) => values.workloads.split(',').includes(w.name));
  const workers = values.workers ? Number(values.workers) : undefined;
  const batchOptions = { maxBatch: Number(values['max-batch']), maxWaitUs: Number(values['max-wait-us']) };
  const dir = await mkdtemp(path.join(tmpdir(), 'islet-bench-accel-'));
  const { 'mlp-bench': mlpPath } = await writeFixtureModels(dir, ['mlp-bench']);
  const models = { mlp: { path: mlpPath, ...batchOptions } };
  const pools = { on: new AccelPool({ models, workers }), off: new AccelPool({ models, workers, batching: false }) };
  const rows: Record<string, unknown>[] = [];
  try {
    await Promise.all([pools.on.ready, pools.off.ready]);
    const device = (pools.on.status().models as Record<string, { device: string }>).mlp?.device;
    for (const workload of workloads) {
      for (const callers of callerCounts) {
        // On and off alternate, `rounds` times, and each reports its median round: slow drifts
        // of a shared machine then stay out of the ratio.
        const runs: Record<'on' | 'off', Measured[]> = { on: [], off: [] };
        for (let round = 0; round < rounds; round++) {
          for (const mode of ['on', 'off'] as const) {
            const pool = pools[mode];
            if (warmupMs && round === 0) await load(pool, workload, callers, warmupMs);
            const before = modelStats(pool, workload.model);
            const result = await load(pool, workload, callers, ms);
            const after = modelStats(pool, workload.model);
            runs[mode].push({ ...result, meanBatch: +((after.calls - before.calls) / Math.max(1, after.batches - before.batches)).toFixed(1) });
          }
        }
        const measured = { on: median(runs.on), off: median(runs.off) };
        const row = {
          workload: workload.name,
          callers,
          'batched calls/s': measured.on!.callsPerSec,
          'unbatched calls/s': measured.off!.callsPerSec,
          speedup: +(measured.on!.callsPerSec / Math.max(1, measured.off!.callsPerSec)).toFixed(2),
          'batched p50/p99 ms': `${measured.on!.p50Ms} / ${measured.on!.p99Ms}`,
          'unbatched p50/p99 ms': `${measured.off!.p50Ms} / ${measured.off!.p99Ms}`,
          'mean batch': measured.on!.meanBatch,
        };
        rows.push({ ...row, batched: measured.on, unbatched: measured.off });
        console.error(JSON.stringify(row));
      }
    }
    console.table(rows.map(({ batched: _b, unbatched: _u, ...row }) => row));
    const report = { bench: 'accel', date: new Date().toISOString(), workers: pools.on.workers, device, durationS: ms / 1000, rounds, ...batchOptions, rows };
    console.log(JSON.stringify(report));
    if (values.json) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    await Promise.all([pools.on.close(), pools.off.close()]);
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  benchAccel(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
