// The pool with real worker threads: built-in and ONNX models, batching, fairness, quotas,
// overload, timeouts, cancellation, crashes and device fallback.
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFixtureModels } from '../../fixtures/accel/make-models.ts';
import { tokenEmbedding } from '../../fixtures/accel/onnx-mlp.ts';
import { EMBED_DIMS, EMBED_MODEL, TOP_K_MODEL } from './backends/index.ts';
import {
  AbortedError, AccelTimeoutError, BackendError, BadInputError, OverloadedError, QuotaExceededError, UnknownModelError,
} from './errors.ts';
import { AccelPool, type AccelPoolOptions } from './pool.ts';
import { CRASH, HANG, REFUSE, THROW } from './test-backend.ts';
import { noWebGpu } from './test-gpu.ts';
import type { Device } from './backend.ts';
import type { Tensor, TensorMap } from './tensor.ts';

const TEST_BACKEND = new URL('./test-backend.ts', import.meta.url).href;
const noWebGpuReason = await noWebGpu;
let dir: string;
let models: Awaited<ReturnType<typeof writeFixtureModels>>;
const pools: AccelPool[] = [];

function pool(options: AccelPoolOptions = {}): AccelPool {
  const p = new AccelPool({ workers: 1, backendModules: [TEST_BACKEND], ...options });
  pools.push(p);
  return p;
}

const f32 = (shape: number[], values: number[]): Tensor => ({ dtype: 'float32', shape, data: Float32Array.from(values).buffer });
const x = (...values: number[]): TensorMap => ({ x: f32([values.length, 1], values) });
const floats = (t: Tensor | undefined) => [...new Float32Array(t!.data as ArrayBuffer)];
const ints = (t: Tensor | undefined) => [...new Int32Array(t!.data as ArrayBuffer)];
/** A probe that reports what the workers found, plus an accelerator for `backend`: a GPU machine, played. */
const offering = (backend: string, device: Device): AccelPoolOptions['probe'] => async (workerProbe) => {
  const real = await workerProbe();
  return { ...real, capabilities: { ...real.capabilities, [backend]: { available: true, devices: [device, 'cpu'], detail: `injected: ${device}` } } };
};
/** A deterministic input row for the MLP. */
const row = (i: number, features: number) => Array.from({ length: features }, (_, j) => Math.sin(i * 31 + j));

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'islet-accel-'));
  models = await writeFixtureModels(dir, ['mlp-classifier', 'mlp-bench']);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('models', () => {
  it('the built-in embedder and top-k work with no config', async () => {
    const p = pool();
    const texts = ['the cat sat on the mat', 'a cat sat on a mat', 'quarterly revenue grew'];
    const out = await p.run({ tenant: 't', model: EMBED_MODEL, inputs: { text: { dtype: 'string', shape: [3], data: texts } } });
    expect(out.embedding!.shape).toEqual([3, EMBED_DIMS]);
    const e = new Float32Array(out.embedding!.data as ArrayBuffer);
    const top = await p.run({
      tenant: 't',
      model: TOP_K_MODEL,
      inputs: { query: { dtype: 'float32', shape: [1, EMBED_DIMS], data: e.slice(0, EMBED_DIMS).buffer }, candidates: { dtype: 'float32', shape: [2, EMBED_DIMS], data: e.slice(EMBED_DIMS).buffer }, k: { dtype: 'int32', shape: [], data: Int32Array.of(2).buffer } },
    });
    expect(ints(top.indices)).toEqual([0, 1]);
    const [near, far] = floats(top.scores);
    expect(near).toBeGreaterThan(0.5);
    expect(far).toBeLessThan(0.2);
    const status = p.status() as any;
    expect(status.models[EMBED_MODEL]).toMatchObject({ backend: 'cpu', device: 'cpu', calls: 1 });
  });

  it('an ONNX model from the config runs on onnxruntime, on the CPU here', async () => {
    const p = pool({ models: { mlp: { path: models['mlp-classifier'], maxBatch: 16 } } });
    const out = await p.run({ tenant: 't', model: 'mlp', inputs: { input: f32([2, 8], [...row(0, 8), ...row(1, 8)]) } });
    expect(out.probabilities!.shape).toEqual([2, 3]);
    expect(out.label).toMatchObject({ dtype: 'int64', shape: [2] });
    const probs = floats(out.probabilities);
    expect(probs[0]! + probs[1]! + probs[2]!).toBeCloseTo(1, 5);
    const info = (await p.models()).find((m) => m.name === 'mlp');
    expect(info).toMatchObject({ backend: 'onnx', device: 'cpu', signature: { batching: 'rows', inputs: { input: { dtype: 'float32', shape: [null, 8] } } } });
  });

  it('batched and unbatched runs give identical outputs, ONNX and built-in', async () => {
    const config = { mlp: { path: models['mlp-bench'], maxBatch: 32, maxWaitUs: 5000 } };
    const on = pool({ models: config });
    const off = pool({ models: config, batching: false });
    const texts = Array.from({ length: 48 }, (_, i) => `document ${i} about topic ${i % 7}`);
    const calls = (p: AccelPool) => Promise.all([
      ...Array.from({ length: 48 }, (_, i) => p.run({ tenant: `t${i % 3}`, model: 'mlp', inputs: { input: f32([1, 256], row(i, 256)) } })),
      ...texts.map((text, i) => p.run({ tenant: `t${i % 3}`, model: EMBED_MODEL, inputs: { text: { dtype: 'string', shape: [1], data: [text] } } })),
    ]);
    const [a, b] = await Promise.all([calls(on), calls(off)]);
    for (let i = 0; i < a.length; i++) {
      for (const name of Object.keys(a[i]!)) expect(Buffer.from(a[i]![name]!.data as ArrayBuffer).equals(Buffer.from(b[i]![name]!.data as ArrayBuffer))).toBe(true);
    }
    const [batched, single] = [(on.status() as any).models, (off.status() as any).models];
    expect(batched.mlp.meanBatch).toBeGreaterThan(4);
    expect(single.mlp).toMatchObject({ batches: 48, meanBatch: 1 });
  });
});

describe('scheduling', () => {
  it('a greedy tenant cannot starve another: each batch takes from both', async () => {
    const p = pool({ models: { slow: { backend: 'test', maxBatch: 4, maxWaitUs: 0, options: { delayMs: 15 } } } });
    await p.ready;
    let greedyDone = 0;
    const greedy = Array.from({ length: 40 }, (_, i) => p.run({ tenant: 'greedy', model: 'slow', inputs: x(i), maxPending: 100 }).then((r) => {
      greedyDone++;
      return r;
    }));
    const lightSeqs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const out = await p.run({ tenant: 'light', model: 'slow', inputs: x(1000 + i) });
      lightSeqs.push(ints(out.batchSeq)[0]!);
      expect(ints(out.batchSize)[0]).toBe(4);
    }
    // Three light calls in a row went through while most of the greedy tenant's 40 still waited.
    expect(greedyDone).toBeLessThan(20);
    expect(lightSeqs[2]! - lightSeqs[0]!).toBeLessThanOrEqual(4);
    await Promise.all(greedy);
  });

  it("a batch's bytes count the outputs its calls will make, not only their inputs", async () => {
    // Before: only inputs counted, so calls of a few bytes of text each making 16 MB of
    // embeddings joined batches of 112 MB of outputs. Here a call's 4 rows make 48 bytes of
    // outputs from 16 of inputs: two such calls pass 100 bytes, so each runs alone.
    const p = pool({ models: { m: { backend: 'test', maxBatch: 8, maxBatchBytes: 100 } } });
    await p.ready;
    const outs = await Promise.all(['a', 'b', 'c'].map((tenant) => p.run({ tenant, model: 'm', inputs: x(1, 2, 3, 4) })));
    expect(outs.map((o) => ints(o.batchSize)[0])).toEqual([1, 1, 1]);
    // Calls light enough still share a batch.
    const small = await Promise.all(['a', 'b', 'c'].map((tenant) => p.run({ tenant, model: 'm', inputs: x(1) })));
    expect(small.map((o) => ints(o.batchSize)[0])).toEqual([3, 3, 3]);
  });

  it('a tenant over its quota is refused at once, others are not', async () => {
    const p = pool({ models: { slow: { backend: 'test', maxBatch: 1, options: { delayMs: 30 } } } });
    const held = Array.from({ length: 3 }, (_, i) => p.run({ tenant: 'a', model: 'slow', inputs: x(i), maxPending: 3 }));
    await expect(p.run({ tenant: 'a', model: 'slow', inputs: x(9), maxPending: 3 })).rejects.toBeInstanceOf(QuotaExceededError);
    await expect(p.run({ tenant: 'b', model: 'slow', inputs: x(9), maxPending: 3 })).resolves.toBeDefined();
    await Promise.all(held);
    await expect(p.run({ tenant: 'a', model: 'slow', inputs: x(9), maxPending: 3 })).resolves.toBeDefined();
  });

  it('tenants at their quota cannot hold a full queue against others: their newest calls make room', async () => {
    // Before: twenty tenants at their quota of 64 filled the 1024 places, and every single call
    // from ten other tenants was refused overloaded while theirs ran.
    const p = pool({ models: { slow: { backend: 'test', maxBatch: 1, maxQueued: 4, options: { delayMs: 50 } } } });
    await p.ready;
    const running = p.run({ tenant: 'a', model: 'slow', inputs: x(1) });
    await new Promise((r) => setImmediate(r));
    const greedy = [1, 2, 3, 4].map((i) => p.run({ tenant: 'greedy', model: 'slow', inputs: x(i), maxPending: 10 }).then(() => 'ran', (e) => e.code));
    const light = p.run({ tenant: 'light', model: 'slow', inputs: x(7) });
    expect(floats((await light).y)).toEqual([14]);
    expect(await Promise.all(greedy)).toEqual(['ran', 'ran', 'ran', 'overloaded']);
    expect(p.pendingCalls('greedy')).toBe(0);
    await running;
  });

  it('a full queue answers overloaded, to every tenant', async () => {
    const p = pool({ models: { slow: { backend: 'test', maxBatch: 1, maxQueued: 2, options: { delayMs: 50 } } } });
    await p.ready;
    const running = p.run({ tenant: 'a', model: 'slow', inputs: x(1) });
    await new Promise((r) => setImmediate(r));
    const queued = [p.run({ tenant: 'b', model: 'slow', inputs: x(2) }), p.run({ tenant: 'c', model: 'slow', inputs: x(3) })];
    const refused = p.run({ tenant: 'd', model: 'slow', inputs: x(4) });
    await expect(refused).rejects.toBeInstanceOf(OverloadedError);
    await expect(refused).rejects.toThrow(/overloaded: 2 calls are already queued/);
    await Promise.all([running, ...queued]);
  });
});

describe('timeouts and cancellation', () => {
  it('a call that waits too long in the queue times out and never runs', async () => {
    const p = pool({ models: { slow: { backend: 'test', maxBatch: 1, options: { delayMs: 150 } } } });
    await p.ready;
    const first = p.run({ tenant: 'a', model: 'slow', inputs: x(1) });
    await new Promise((r) => setImmediate(r));
    const started = performance.now();
    await expect(p.run({ tenant: 'b', model: 'slow', inputs: x(2), timeoutMs: 40 })).rejects.toBeInstanceOf(AccelTimeoutError);
    expect(performance.now() - started).toBeLessThan(140);
    await first;
    expect((p.status() as any).models.slow).toMatchObject({ calls: 1, queued: 0 });
  });

  it('an aborted call leaves the queue; an abandoned running batch is stopped and its worker replaced', async () => {
    const p = pool({ models: { slow: { backend: 'test', maxBatch: 1, options: { delayMs: 10 } } } });
    await p.ready;
    const hung = p.run({ tenant: 'a', model: 'slow', inputs: x(HANG), timeoutMs: 100 });
    await new Promise((r) => setImmediate(r));
    const cancel = new AbortController();
    const aborted = p.run({ tenant: 'b', model: 'slow', inputs: x(2), signal: cancel.signal });
    cancel.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortedError);
    await expect(hung).rejects.toBeInstanceOf(AccelTimeoutError);
    // The hung batch's worker was terminated; a fresh one serves the next call well within the hang.
    const out = await p.run({ tenant: 'a', model: 'slow', inputs: x(21), timeoutMs: 5000 });
    expect(floats(out.y)).toEqual([42]);
    expect((p.status() as any).models.slow.stoppedBatches).toBe(1);
  });

  it('an abandoned batch about to end is left to end: its worker is not replaced', async () => {
    const p = pool({ models: { slow: { backend: 'test', maxBatch: 1, options: { delayMs: 60 } } } });
    await p.ready;
    // Timed out while running, 60 ms from its end: replacing the worker would cost every tenant
    // the new worker's start; each of these calls did, 100 of them in a row in a probe.
    for (let i = 0; i < 3; i++) {
      await expect(p.run({ tenant: 'a', model: 'slow', inputs: x(1), timeoutMs: 20 })).rejects.toBeInstanceOf(AccelTimeoutError);
      await new Promise((r) => setTimeout(r, 80));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect((p.status() as any).models.slow).toMatchObject({ stoppedBatches: 0, batches: 3 });
    expect(floats((await p.run({ tenant: 'b', model: 'slow', inputs: x(2) })).y)).toEqual([4]);
  });
});

describe('closing', () => {
  it('a second close() settles only once the first has ended the workers', async () => {
    // Before: it answered at once, while the first still waited for the workers to go.
    const p = pool();
    await p.ready;
    let firstDone = false;
    void p.close().then(() => {
      firstDone = true;
    });
    await p.close();
    expect(firstDone).toBe(true);
  });
});

describe('failures', () => {
  it('a batch that crashes its worker fails alone; the pool replaces the worker', async () => {
    const p = pool({ models: { m: { backend: 'test', maxBatch: 2, maxWaitUs: 0 } } });
    await p.ready;
    const results = await Promise.allSettled([
      p.run({ tenant: 'a', model: 'm', inputs: x(CRASH) }),
      p.run({ tenant: 'b', model: 'm', inputs: x(1) }),
      p.run({ tenant: 'c', model: 'm', inputs: x(2) }),
      p.run({ tenant: 'd', model: 'm', inputs: x(3) }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(BackendError);
    expect((results[0] as PromiseRejectedResult).reason.message).toMatch(/batch of 2 call\(s\).*exited/);
    const after = await p.run({ tenant: 'a', model: 'm', inputs: x(5) });
    expect(floats(after.y)).toEqual([10]);
    expect((p.status() as any).models.m.failedBatches).toBe(1);
  });

  it('a backend that throws fails that batch; a call the model refuses fails alone', async () => {
    const p = pool({ models: { m: { backend: 'test', maxBatch: 8, maxWaitUs: 20_000 } } });
    await expect(p.run({ tenant: 'a', model: 'm', inputs: x(THROW) })).rejects.toThrow(/told to fail/);
    const [refused, fine] = await Promise.allSettled([
      p.run({ tenant: 'a', model: 'm', inputs: x(REFUSE) }),
      p.run({ tenant: 'b', model: 'm', inputs: x(4) }),
    ]);
    expect((refused as PromiseRejectedResult).reason).toBeInstanceOf(BadInputError);
    expect(fine).toMatchObject({ status: 'fulfilled' });
    expect(ints((fine as PromiseFulfilledResult<TensorMap>).value.batchSize)).toEqual([2]);
  });

  it('an input onnxruntime refuses fails that call alone: its batch-mates get answers, not its values', async () => {
    // Before: one tenant's token id past the table failed every call in the batch, and each of
    // the other tenants read "idx=99 must be within…" in its error.
    const file = path.join(dir, 'token-embedding.onnx');
    await writeFile(file, tokenEmbedding({ vocab: 10, tokens: 2, dims: 3 }));
    const p = pool({ models: { embed: { path: file, maxBatch: 8 } } });
    const ids = (a: number, b: number): TensorMap => ({ ids: { dtype: 'int64', shape: [1, 2], data: BigInt64Array.of(BigInt(a), BigInt(b)).buffer } });
    const results = await Promise.allSettled([1, 99, 2, 3].map((id, i) => p.run({ tenant: `t${i}`, model: 'embed', inputs: ids(id, 0) })));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(floats((results[2] as PromiseFulfilledResult<TensorMap>).value.embedding)).toEqual([6, 7, 8, 0, 1, 2]);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(BadInputError);
    expect((results[1] as PromiseRejectedResult).reason.message).toMatch(/out of data bounds/);
    expect((p.status() as any).models.embed).toMatchObject({ batches: 1, failedBatches: 0 });
    // Two bad calls in one batch, each with its own values: each caller reads its own only.
    const bad = await Promise.allSettled([77, 99].map((id, i) => p.run({ tenant: `u${i}`, model: 'embed', inputs: ids(id, 0) })));
    expect(bad.map((r) => (r as PromiseRejectedResult).reason.message)).toEqual([expect.stringMatching(/idx=77/), expect.stringMatching(/idx=99/)]);
    expect((bad[0] as PromiseRejectedResult).reason.message).not.toMatch(/idx=99/);
    // Alone the run fails as a batch does.
    await expect(p.run({ tenant: 'a', model: 'embed', inputs: ids(99, 0) })).rejects.toBeInstanceOf(BackendError);
  });

  it('bad inputs are refused before they are queued, with what was expected', async () => {
    const p = pool({ models: { mlp: { path: models['mlp-classifier'] } } });
    await expect(p.run({ tenant: 'a', model: 'nope', inputs: {} })).rejects.toBeInstanceOf(UnknownModelError);
    const bad = (inputs: TensorMap) => p.run({ tenant: 'a', model: 'mlp', inputs });
    await expect(bad({})).rejects.toThrow(/takes inputs "input"; missing input/);
    await expect(bad({ input: f32([1, 8], row(0, 8)), extra: f32([1], [1]) })).rejects.toThrow(/unknown extra/);
    await expect(bad({ input: { dtype: 'int32', shape: [1, 8], data: new Int32Array(8).buffer } })).rejects.toThrow(/must be float32, got int32/);
    await expect(bad({ input: f32([1, 7], row(0, 7)) })).rejects.toThrow(/must have shape \[\?, 8\], got \[1, 7\]/);
    await expect(bad({ input: f32([2, 8], row(0, 8)) })).rejects.toThrow(/has 8 elements, its shape \[2, 8\] needs 16/);
    await expect(bad({ input: f32([0, 8], []) })).rejects.toThrow(/at least one row/);
    await expect(p.run({
      tenant: 'a', model: TOP_K_MODEL,
      inputs: { query: f32([1, 2], [1, 0]), candidates: f32([1, 3], [1, 0, 0]), k: { dtype: 'int32', shape: [], data: Int32Array.of(1).buffer } },
    })).rejects.toThrow(/query rows have 2 dimensions, candidate rows 3/);
    expect((p.status() as any).models.mlp.calls).toBe(0);
  });

  it('a model a new worker cannot load is unavailable to callers, who are not shown why (a path on the host)', async () => {
    // Before: a replacement worker that found the model's file gone failed the batch with
    // "Load model from /…/private.onnx failed", path and all, to every caller in it.
    const file = path.join(dir, 'private.onnx');
    await copyFile(models['mlp-classifier'], file);
    const p = pool({ models: { mlp: { path: file }, m: { backend: 'test' } } });
    const input = { input: f32([1, 8], row(0, 8)) };
    await expect(p.run({ tenant: 'a', model: 'mlp', inputs: input })).resolves.toBeDefined();
    await rm(file);
    await expect(p.run({ tenant: 'a', model: 'm', inputs: x(CRASH) })).rejects.toBeInstanceOf(BackendError);
    const err = await p.run({ tenant: 'a', model: 'mlp', inputs: { input: f32([1, 8], row(0, 8)) } }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toBe('model "mlp" is unavailable on this host');
    expect((p.status() as any).models.mlp.failedBatches).toBe(1);
  });

  it('a pool that failed to start answers backend_error, not unknown_model, and keeps why to the status', async () => {
    // Before: model() found no models and the binding told tenants their model's name was unknown.
    const p = pool({ probe: async () => { throw new Error('/opt/private/libonnxruntime.so: cannot open'); } });
    await expect(p.model(EMBED_MODEL)).rejects.toThrow(new BackendError('the accelerator pool is unavailable on this host'));
    await expect(p.run({ tenant: 'a', model: EMBED_MODEL, inputs: {} })).rejects.toThrow(/^the accelerator pool is unavailable on this host$/);
    expect(p.status()).toMatchObject({ state: 'failed', error: '/opt/private/libonnxruntime.so: cannot open' });
  });

  it('a model that cannot load is reported, and calls to it fail clearly', async () => {
    const p = pool({ models: { broken: { path: path.join(dir, 'missing.onnx') } } });
    await expect(p.run({ tenant: 'a', model: 'broken', inputs: {} })).rejects.toThrow(/model "broken" is unavailable on this host/);
    expect((p.status() as any).models.broken.error).toMatch(/failed to load/);
  });
});

describe('devices', () => {
  it('on a machine that reports CUDA, the model is planned on CUDA and falls back to the CPU when the provider fails', async () => {
    const p = pool({
      models: { mlp: { path: models['mlp-classifier'] } },
      probe: offering('onnx', 'cuda'),
    });
    const out = await p.run({ tenant: 'a', model: 'mlp', inputs: { input: f32([1, 8], row(3, 8)) } });
    expect(out.probabilities!.shape).toEqual([1, 3]);
    const status = (p.status() as any).models.mlp;
    expect(status.device).toBe('cpu');
    expect(status.fallback).toMatch(/^cuda failed: /);
    // Nothing runs on an accelerator after all: its lane is gone.
    expect((p.status() as any).acceleratorWorkers).toBeUndefined();
  });

  it('a model on an accelerator runs in a lane of its own, one batch at a time, and CPU models never wait behind it', async () => {
    const p = pool({
      workers: 2,
      models: {
        gpu: { backend: 'test', device: 'cuda', maxBatch: 1, options: { delayMs: 60 } },
        cpu: { backend: 'test', device: 'cpu', maxBatch: 1, options: { delayMs: 20 } },
      },
      probe: offering('test', 'cuda'),
    });
    await p.ready;
    const done: string[] = [];
    const call = (model: string, i: number) => p.run({ tenant: `t${i}`, model, inputs: x(i) }).then((out) => {
      done.push(model);
      return ints(out.batchSeq)[0];
    });
    const [gpu, cpu] = await Promise.all([
      Promise.all([1, 2, 3, 4].map((i) => call('gpu', i))),
      Promise.all([1, 2, 3, 4].map((i) => call('cpu', i))),
    ]);
    // One worker ran every GPU batch in turn: its counter went 1..4 (two would have repeated).
    expect(gpu.sort()).toEqual([1, 2, 3, 4]);
    expect(cpu).toHaveLength(4);
    // The CPU's four batches (20 ms each, even one after another) were all done before the GPU's
    // second (60 ms each): they did not queue behind them.
    expect(done.slice(0, 5).filter((m) => m === 'cpu')).toHaveLength(4);
    const status = p.status() as any;
    expect(status).toMatchObject({ workers: 2, acceleratorWorkers: 1, models: { gpu: { device: 'cuda', batches: 4 }, cpu: { device: 'cpu', batches: 4 } } });
  });

  it('a batch that crashes the accelerator lane\'s worker fails alone; the lane gets another, and a hung one is stopped', async () => {
    const p = pool({ models: { gpu: { backend: 'test', device: 'cuda', maxBatch: 1 } }, probe: offering('test', 'cuda') });
    const results = await Promise.allSettled([
      p.run({ tenant: 'a', model: 'gpu', inputs: x(CRASH) }),
      p.run({ tenant: 'b', model: 'gpu', inputs: x(2) }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect((results[0] as PromiseRejectedResult).reason.message).toMatch(/exited/);
    // A hung batch whose caller gave up is stopped (its worker replaced), and the lane serves on.
    await expect(p.run({ tenant: 'a', model: 'gpu', inputs: x(HANG), timeoutMs: 100 })).rejects.toBeInstanceOf(AccelTimeoutError);
    const after = await p.run({ tenant: 'a', model: 'gpu', inputs: x(5) });
    expect(floats(after.y)).toEqual([10]);
    expect((p.status() as any).models.gpu).toMatchObject({ device: 'cuda', failedBatches: 1, stoppedBatches: 1 });
  });

  // Where a GPU answers, onnx-webgpu.test.ts runs the model on it instead.
  it.skipIf(!noWebGpuReason)('a model asked onto WebGPU where no adapter answers runs on the CPU, saying why', async () => {
    const p = pool({
      models: { mlp: { path: models['mlp-classifier'], device: 'webgpu' } },
      probe: offering('onnx', 'webgpu'),
    });
    const out = await p.run({ tenant: 'a', model: 'mlp', inputs: { input: f32([1, 8], row(3, 8)) } });
    expect(out.probabilities!.shape).toEqual([1, 3]);
    const status = (p.status() as any).models.mlp;
    expect(status.device).toBe('cpu');
    // onnxruntime's own words, without the source file and failed check it starts with.
    expect(status.fallback).toMatch(/^webgpu failed: Failed to get a WebGPU adapter/);
  });
});
