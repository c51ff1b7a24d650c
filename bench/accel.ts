// The accelerator pool under load: N callers (1, 8, 64) each call a model in a loop for a fixed
// time, with dynamic batching on and off, side by side in one run (the same machine, the same
// minutes). Workloads:
//   mlp     the ONNX MLP from fixtures/accel (256 → 512 → 512 → 16, generated here, run by
//           onnxruntime on the CPU: a batch is one matrix product), called on the pool directly
//           as env.AI's host side does;
//   embed   the built-in hashing text embedder (pure JavaScript, where batching only saves the
//           hops between threads), on the pool directly;
//   env-mlp the MLP from tenant code: each call is a request to one of 8 functions whose handler
//           awaits env.AI.run, through the engine and the isolates (no HTTP).
// Tenants rotate over 8 names. `--model mlp-large` swaps the MLP for a 21M-parameter one
// (1024 → 4096 → 4096 → 1000), and `--devices auto,cpu,webgpu` runs the MLP workloads once per
// device, side by side (auto: what the pool chose here). A benchmark, not a test:
// `npm run bench:accel -- [--duration 3] [--rounds 3] [--callers 1,8,64] [--workloads mlp,embed,env-mlp]
//   [--model mlp-bench|mlp-large] [--devices auto] [--json out.json]`.
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AccelPool, type ModelConfig } from '../engine/accel/index.ts';
import { Engine } from '../engine/index.ts';
import { accelWorkers } from '../engine/limits.ts';
import { writeFixtureModels } from '../fixtures/accel/make-models.ts';
import { FIXTURE_MODELS } from '../fixtures/accel/onnx-mlp.ts';
import { emitReport, runAsScript } from './bench-cli.ts';
import { medianBy, percentile } from './percentile.ts';

const TENANTS = 8;
const rowsOf = (features: number) => Array.from({ length: 64 }, (_, i) => Float32Array.from({ length: features }, (_, j) => Math.sin(i * 13 + j)));
const TEXTS = Array.from({ length: 64 }, (_, i) => `request ${i}: summarise the quarterly report on topic ${i % 9} for the board`);

/** One side of a comparison (batching on or off) for one workload. */
interface Target {
  /** Caller `c`'s call number `i`. */
  call(c: number, i: number): Promise<unknown>;
  /** The model's calls and batches so far, and where it runs. */
  stats(): { calls: number; batches: number; device?: string };
  close(): Promise<void>;
}

interface Setup {
  models: Record<string, ModelConfig>;
  /** The MLP's input width. */
  features: number;
  workers?: number;
  batching: boolean;
}

async function poolTarget(setup: Setup, model: string, input: (i: number) => Parameters<AccelPool['run']>[0]['inputs']): Promise<Target> {
  const pool = new AccelPool(setup);
  await pool.ready;
  return {
    call: (c, i) => pool.run({ tenant: `tenant-${c % TENANTS}`, model, inputs: input(i), maxPending: 1024 }),
    stats: () => (pool.status().models as Record<string, { calls: number; batches: number; device?: string }>)[model]!,
    close: () => pool.close(),
  };
}

async function engineTarget(setup: Setup): Promise<Target> {
  const engine = new Engine({ models: setup.models, accel: { workers: setup.workers, batching: setup.batching } });
  const code = `
    const row = Float32Array.from({ length: ${setup.features} }, (_, j) => Math.sin(j));
    export default { async fetch(request, env) {
      const { label } = await env.AI.run('mlp', { input: row });
      return new Response(String(label.data[0]));
    } };`;
  const call = async (c: number) => {
    const res = await engine.fetch(`tenant-${c % TENANTS}`, new Request('http://bench/'));
    if (res.status !== 200) throw new Error(`tenant answered ${res.status}: ${await res.text()}`);
  };
  // cpuMs is raised because the limit enforcer shares an isolate's CPU among all its requests in
  // flight, including those only waiting for the pool: under this load a request that waits long
  // enough is charged for its neighbours' work and could be stopped (see the README).
  const limits = { cpuMs: 1000 };
  for (let t = 0; t < TENANTS; t++) await engine.deploy(`tenant-${t}`, { code, limits, ai: { maxPending: 1024 } });
  // One request each first: the pool is ready and every isolate is warm before anything is timed.
  for (let t = 0; t < TENANTS; t++) await call(t);
  return {
    call,
    stats: () => ((engine.status().accel as { models: Record<string, { calls: number; batches: number; device?: string }> }).models.mlp!),
    close: () => engine.close(),
  };
}

const WORKLOADS: Record<string, (setup: Setup) => Promise<Target>> = {
  mlp: (s) => {
    const rows = rowsOf(s.features);
    return poolTarget(s, 'mlp', (i) => ({ input: { dtype: 'float32', shape: [1, s.features], data: rows[i % 64]!.slice().buffer } }));
  },
  embed: (s) => poolTarget(s, '@islet/embed-text', (i) => ({ text: { dtype: 'string', shape: [1], data: [TEXTS[i % 64]!] } })),
  'env-mlp': engineTarget,
};

/** Where the MLP ran: "auto"'s choice is marked, and so is a device asked for that was not to be had. */
function deviceColumn(asked: string, ran = '?'): string {
  if (asked === 'auto') return `${ran} (auto)`;
  return ran === asked ? ran : `${ran} (${asked} failed)`;
}

type Measured = Awaited<ReturnType<typeof load>> & { meanBatch: number };

/** `callers` loops calling `target` for `ms`; answers calls/s and latency percentiles. */
async function load(target: Target, callers: number, ms: number) {
  const latencies: number[] = [];
  const end = performance.now() + ms;
  let i = 0;
  await Promise.all(Array.from({ length: callers }, async (_, c) => {
    while (performance.now() < end) {
      const t = performance.now();
      await target.call(c, i++);
      latencies.push(performance.now() - t);
    }
  }));
  latencies.sort((a, b) => a - b);
  return { calls: latencies.length, callsPerSec: Math.round(latencies.length / (ms / 1000)), p50Ms: +percentile(latencies, 0.5).toFixed(3), p99Ms: +percentile(latencies, 0.99).toFixed(3) };
}

async function measure(target: Target, callers: number, ms: number): Promise<Measured> {
  const before = target.stats();
  const result = await load(target, callers, ms);
  const after = target.stats();
  return { ...result, meanBatch: +((after.calls - before.calls) / Math.max(1, after.batches - before.batches)).toFixed(1) };
}

export async function benchAccel(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '0.5' },
      callers: { type: 'string', default: '1,8,64' },
      workloads: { type: 'string', default: 'mlp,embed,env-mlp' },
      workers: { type: 'string' },
      'max-batch': { type: 'string', default: '32' },
      'max-wait-us': { type: 'string', default: '0' },
      model: { type: 'string', default: 'mlp-bench' },
      devices: { type: 'string', default: 'auto' },
      json: { type: 'string' },
    },
  });
  const ms = Number(values.duration) * 1000;
  const rounds = Number(values.rounds);
  const warmupMs = Number(values.warmup) * 1000;
  const callerCounts = values.callers.split(',').map(Number);
  const workloads = values.workloads.split(',');
  for (const w of workloads) if (!WORKLOADS[w]) throw new Error(`unknown workload "${w}" (known: ${Object.keys(WORKLOADS).join(', ')})`);
  const workers = values.workers ? Number(values.workers) : undefined;
  const modelName = values.model as keyof typeof FIXTURE_MODELS;
  if (!Object.hasOwn(FIXTURE_MODELS, modelName)) throw new Error(`unknown model "${values.model}" (known: ${Object.keys(FIXTURE_MODELS).join(', ')})`);
  const devices = values.devices.split(',') as NonNullable<ModelConfig['device']>[];
  const batchOptions = { maxBatch: Number(values['max-batch']), maxWaitUs: Number(values['max-wait-us']) };
  const dir = await mkdtemp(path.join(tmpdir(), 'islet-bench-accel-'));
  const rows: Record<string, unknown>[] = [];
  let workerCount: number | undefined;
  try {
    const { [modelName]: mlpPath } = await writeFixtureModels(dir, [modelName]);
    const features = FIXTURE_MODELS[modelName].features;
    for (const [d, device] of devices.entries()) {
      // Built-in models take the defaults; the bench's batch settings and device apply to the MLP.
      const models = { mlp: { path: mlpPath, device, ...batchOptions } };
      // The embedder is JavaScript on the CPU whatever the MLP's device: measured once.
      for (const workload of workloads.filter((w) => d === 0 || w !== 'embed')) {
        const targets = { on: await WORKLOADS[workload]!({ models, features, workers, batching: true }), off: await WORKLOADS[workload]!({ models, features, workers, batching: false }) };
        try {
          for (const callers of callerCounts) {
            // On and off alternate, `rounds` times, and each reports its median round: slow drifts
            // of a shared machine then stay out of the ratio.
            const runs: Record<'on' | 'off', Measured[]> = { on: [], off: [] };
            for (let round = 0; round < rounds; round++) {
              for (const mode of ['on', 'off'] as const) {
                if (warmupMs && round === 0) await load(targets[mode], callers, warmupMs);
                runs[mode].push(await measure(targets[mode], callers, ms));
              }
            }
            const [on, off] = [medianBy(runs.on, (r) => r.callsPerSec), medianBy(runs.off, (r) => r.callsPerSec)];
            const row = {
              workload,
              // Where it ran: what "auto" chose, or the device asked for (after any fallback).
              device: workload === 'embed' ? 'cpu' : deviceColumn(device, targets.on.stats().device),
              callers,
              'batched calls/s': on.callsPerSec,
              'unbatched calls/s': off.callsPerSec,
              speedup: +(on.callsPerSec / Math.max(1, off.callsPerSec)).toFixed(2),
              'batched p50/p99 ms': `${on.p50Ms} / ${on.p99Ms}`,
              'unbatched p50/p99 ms': `${off.p50Ms} / ${off.p99Ms}`,
              'mean batch': on.meanBatch,
            };
            rows.push({ ...row, batched: on, unbatched: off });
            console.error(JSON.stringify(row));
          }
        } finally {
          await Promise.all([targets.on.close(), targets.off.close()]);
        }
      }
    }
    workerCount = workers ?? accelWorkers(availableParallelism());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.table(rows.map(({ batched: _b, unbatched: _u, ...row }) => row));
  const report = { bench: 'accel', date: new Date().toISOString(), workers: workerCount, model: modelName, durationS: ms / 1000, rounds, ...batchOptions, rows };
  return emitReport(report, values.json);
}

runAsScript(import.meta.url, benchAccel);
