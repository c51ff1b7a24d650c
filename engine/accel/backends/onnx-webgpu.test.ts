// The WebGPU path on a real GPU: onnxruntime-node's own WebGPU provider (Dawn on Vulkan). Needs a
// GPU with a Vulkan driver: without one (every CI machine here) these skip and say why; the
// README's accelerator section says how they were run on a GPU machine and what they gave.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFixtureModels } from '../../../fixtures/accel/make-models.ts';
import { FIXTURE_MODELS } from '../../../fixtures/accel/onnx-mlp.ts';
import { Engine } from '../../index.ts';
import { AccelPool, type AccelPoolOptions } from '../pool.ts';
import type { Tensor } from '../tensor.ts';
import { noWebGpu } from '../test-gpu.ts';

const reason = await noWebGpu;
if (reason) console.log(`onnx-webgpu.test.ts: skipped, ${reason}`);

let dir: string;
let files: Record<keyof typeof FIXTURE_MODELS, string>;
const pools: AccelPool[] = [];
const pool = (options: AccelPoolOptions) => {
  const p = new AccelPool({ workers: 1, ...options });
  pools.push(p);
  return p;
};
const LARGE = FIXTURE_MODELS['mlp-large'];
const rows = (n: number, features: number, from = 0) => Float32Array.from({ length: n * features }, (_, i) => Math.sin((from * features + i) * 0.37));
const input = (n: number, features: number, from = 0): Tensor => ({ dtype: 'float32', shape: [n, features], data: rows(n, features, from).buffer });
const floats = (t: Tensor | undefined) => new Float32Array(t!.data as ArrayBuffer);
const labels = (t: Tensor | undefined) => [...new BigInt64Array(t!.data as ArrayBuffer)];
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe.skipIf(reason)('the onnx backend on a GPU (WebGPU)', () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'islet-webgpu-'));
    files = await writeFixtureModels(dir, ['mlp-classifier', 'mlp-large']);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a model on the GPU when asked, with the CPU\'s answers', async () => {
    const gpu = pool({ models: { large: { path: files['mlp-large'], device: 'webgpu' } } });
    const cpu = pool({ models: { large: { path: files['mlp-large'], device: 'cpu' } } });
    const [a, b] = await Promise.all([
      gpu.run({ tenant: 't', model: 'large', inputs: { input: input(16, LARGE.features) } }),
      cpu.run({ tenant: 't', model: 'large', inputs: { input: input(16, LARGE.features) } }),
    ]);
    const status = (gpu.status() as any).models.large;
    expect(status).toMatchObject({ device: 'webgpu' });
    expect(status.fallback).toBeUndefined();
    expect((cpu.status() as any).models.large.device).toBe('cpu');
    expect(a.probabilities!.shape).toEqual([16, LARGE.classes]);
    // Same model, another order of sums: equal to float32 rounding, with the same labels.
    expect(maxDiff(floats(a.probabilities), floats(b.probabilities))).toBeLessThan(1e-6);
    expect(labels(a.label)).toEqual(labels(b.label));
  }, 60_000);

  it('batches calls from many tenants into one GPU run and splits the answers back', async () => {
    const p = pool({ models: { large: { path: files['mlp-large'], device: 'webgpu', maxBatch: 16 } } });
    const alone = await Promise.all(Array.from({ length: 4 }, (_, i) => p.run({ tenant: `t${i}`, model: 'large', inputs: { input: input(1, LARGE.features, i) } })));
    const before = (p.status() as any).models.large.batches;
    const together = await Promise.all(Array.from({ length: 16 }, (_, i) => p.run({ tenant: `t${i % 4}`, model: 'large', inputs: { input: input(1, LARGE.features, i % 4) } })));
    expect((p.status() as any).models.large.batches - before).toBeLessThan(16);
    // A GPU may sum a batch of 16 rows in another order than a batch of one: close, not identical.
    for (const [i, out] of together.entries()) {
      expect(maxDiff(floats(out.probabilities), floats(alone[i % 4]!.probabilities))).toBeLessThan(1e-6);
      expect(labels(out.label)).toEqual(labels(alone[i % 4]!.label));
    }
  }, 60_000);

  it('"auto" times the GPU against the CPU: the tiny classifier stays on the CPU, the large MLP goes to the GPU', async () => {
    const p = pool({ models: { small: { path: files['mlp-classifier'] }, large: { path: files['mlp-large'] } } });
    await p.ready;
    const { small, large } = (p.status() as any).models;
    expect(small).toMatchObject({ device: 'cpu', choice: expect.stringMatching(/^auto: cpu \(per batch of 32 rows: webgpu .* ms, cpu .* ms\)$/) });
    expect(large).toMatchObject({ device: 'webgpu', choice: expect.stringMatching(/^auto: webgpu /) });
    expect((p.status() as any).backends.onnx.devices).toEqual(expect.arrayContaining(['webgpu', 'cpu']));
    const out = await p.run({ tenant: 't', model: 'large', inputs: { input: input(2, LARGE.features) } });
    expect(out.label!.shape).toEqual([2]);
  }, 60_000);

  it('serves env.AI.run from tenant code on the GPU', async () => {
    const engine = new Engine({ models: { large: { path: files['mlp-large'], device: 'webgpu' } }, accel: { workers: 1 } });
    try {
      await engine.deploy('classify', {
        code: `export default { async fetch(request, env) {
          const row = Float32Array.from({ length: ${LARGE.features} }, (_, i) => Math.sin(i * 0.37));
          const { label, probabilities } = await env.AI.run('large', { input: row });
          return Response.json({ label: Number(label.data[0]), p: probabilities.data[Number(label.data[0])] });
        } };`,
        ai: {},
        // The isolate's clock runs while it waits for the GPU (see ai-binding.test.ts).
        limits: { cpuMs: 1000 },
      });
      const res = await engine.fetch('classify', new Request('http://x/'));
      expect(res.status, await res.clone().text()).toBe(200);
      const body = (await res.json()) as { label: number; p: number };
      const cpu = pool({ models: { large: { path: files['mlp-large'], device: 'cpu' } } });
      const want = await cpu.run({ tenant: 't', model: 'large', inputs: { input: input(1, LARGE.features) } });
      expect(body.label).toBe(Number(labels(want.label)[0]));
      expect(Math.abs(body.p - floats(want.probabilities)[body.label]!)).toBeLessThan(1e-6);
      expect((engine.status().accel as any).models.large.device).toBe('webgpu');
    } finally {
      await engine.close();
    }
  }, 60_000);
});
