// How "auto" times devices against each other, with candidates whose speed the test sets.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ModelSignature } from './backend.ts';
import { describeChoice, fastest, sampleInputs, timeDevices } from './device-timing.ts';

describe('timeDevices', () => {
  it('warms each candidate once, times them in turn and keeps the faster median', async () => {
    const order: string[] = [];
    const candidate = (device: 'webgpu' | 'cpu', ms: number) => ({ device, run: async () => { order.push(device); await sleep(ms); } });
    const timings = await timeDevices([candidate('webgpu', 12), candidate('cpu', 1)], { runs: 3 });
    expect(order).toEqual(['webgpu', 'cpu', ...Array(3).fill(['webgpu', 'cpu']).flat()]);
    expect(timings.map((t) => t.device)).toEqual(['webgpu', 'cpu']);
    expect(timings[0]!.medianMs).toBeGreaterThan(timings[1]!.medianMs);
    expect(fastest(timings).device).toBe('cpu');
    expect(describeChoice(timings, 32)).toMatch(/^auto: cpu \(per batch of 32 rows: webgpu \d+\.\d\d ms, cpu \d+\.\d\d ms\)$/);
  });

  it('stops at its time budget, after at least one timed run each', async () => {
    let runs = 0;
    const slow = { device: 'cpu' as const, run: async () => { runs++; await sleep(30); } };
    await timeDevices([slow], { runs: 50, budgetMs: 50 });
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(runs).toBeLessThan(6);
  });

  it('on a tie keeps the first candidate (the planned accelerator)', () => {
    expect(fastest([{ device: 'cuda', medianMs: 1 }, { device: 'cpu', medianMs: 1 }]).device).toBe('cuda');
  });
});

describe('sampleInputs', () => {
  const sig = (inputs: ModelSignature['inputs'], batching: ModelSignature['batching'] = 'rows'): ModelSignature => ({ inputs, outputs: {}, batching });

  it('makes zero-filled batches of the asked rows', () => {
    const sample = sampleInputs(sig({ input: { dtype: 'float32', shape: [null, 8] }, ids: { dtype: 'int64', shape: [null, 2, 3] } }), 32);
    expect(typeof sample).toBe('object');
    const { input, ids } = sample as Exclude<typeof sample, string>;
    expect(input).toMatchObject({ dtype: 'float32', shape: [32, 8] });
    expect((input!.data as ArrayBuffer).byteLength).toBe(32 * 8 * 4);
    expect(ids).toMatchObject({ dtype: 'int64', shape: [32, 2, 3] });
    expect(new Uint8Array(ids!.data as ArrayBuffer).every((b) => b === 0)).toBe(true);
  });

  it('says why when a representative batch cannot be made up', () => {
    expect(sampleInputs(sig({ x: { dtype: 'float32', shape: [1, 8] } }, 'calls'), 4)).toBe('its inputs have no batch dimension');
    expect(sampleInputs(sig({ text: { dtype: 'string', shape: [null] } }), 4)).toBe('input "text" is text');
    expect(sampleInputs(sig({ tokens: { dtype: 'int64', shape: [null, null] } }), 4)).toBe('input "tokens" has a free dimension besides the batch');
    expect(sampleInputs(sig({ image: { dtype: 'float32', shape: [null, 3, 1024, 1024] } }), 32)).toBe('a batch of 32 rows is 384 MB');
  });
});
