import { describe, expect, it } from 'vitest';
import { FairBatchQueue } from './fair-batch-queue.ts';

const call = (tenant: string, queuedUs = 0, cost = 1) => ({ tenant, queuedUs, cost });

describe('FairBatchQueue', () => {
  it('fills a batch round-robin across tenants, whatever each has queued', () => {
    const q = new FairBatchQueue<ReturnType<typeof call>>({ maxBatch: 4, maxWaitUs: 0, maxQueued: 100 });
    for (let i = 0; i < 10; i++) q.push(call('greedy'));
    q.push(call('a'));
    q.push(call('b'));
    expect(q.take().map((c) => c.tenant)).toEqual(['greedy', 'a', 'b', 'greedy']);
    expect(q.take().map((c) => c.tenant)).toEqual(['greedy', 'greedy', 'greedy', 'greedy']);
    expect(q.size).toBe(4);
  });

  it('when full, makes room for a tenant with fewer queued: the newest call of the one with the most leaves', () => {
    const q = new FairBatchQueue<ReturnType<typeof call>>({ maxBatch: 8, maxWaitUs: 0, maxQueued: 4 });
    const heavy = [call('heavy', 1), call('heavy', 2), call('heavy', 3)];
    for (const c of heavy) q.push(c);
    q.push(call('a'));
    const displaced: ReturnType<typeof call>[] = [];
    expect(q.push(call('b'), (c) => displaced.push(c))).toBe(true);
    expect(displaced).toEqual([heavy[2]]);
    // heavy 2, a 1, b 1: no tenant has more than one call over b's 2, so the next is refused.
    expect(q.push(call('b'), (c) => displaced.push(c))).toBe(false);
    expect(q.push(call('c'))).toBe(false);
    expect(q.size).toBe(4);
    expect(q.take().map((c) => c.tenant)).toEqual(['heavy', 'a', 'b', 'heavy']);
  });

  it('starts the next batch with the tenants the last one did not reach', () => {
    const q = new FairBatchQueue<ReturnType<typeof call>>({ maxBatch: 2, maxWaitUs: 0, maxQueued: 100 });
    for (const t of ['a', 'b', 'c', 'a', 'b', 'c']) q.push(call(t));
    expect(q.take().map((c) => c.tenant)).toEqual(['a', 'b']);
    expect(q.take().map((c) => c.tenant)).toEqual(['c', 'a']);
    expect(q.take().map((c) => c.tenant)).toEqual(['b', 'c']);
  });

  it("bounds a batch by its calls' cost: a big call runs alone, and small ones do not wait behind a batch of big ones", () => {
    const q = new FairBatchQueue<ReturnType<typeof call>>({ maxBatch: 32, maxWaitUs: 0, maxQueued: 100, maxBatchCost: 100 });
    for (let i = 0; i < 4; i++) q.push(call('heavy', 0, 80));
    q.push(call('light', 0, 5));
    q.push(call('light', 0, 5));
    // Without the bound: every call in one batch, the light ones waiting for four heavy runs.
    expect(q.take().map((c) => `${c.tenant}:${c.cost}`)).toEqual(['heavy:80', 'light:5', 'light:5']);
    expect(q.take().map((c) => c.tenant)).toEqual(['heavy']);
    // A call past the bound on its own still goes, alone.
    q.push(call('huge', 0, 500));
    q.push(call('light', 0, 5));
    expect(q.take().map((c) => c.tenant)).toEqual(['heavy', 'light']);
    expect(q.take().map((c) => c.tenant)).toEqual(['huge']);
    expect(q.take().map((c) => c.tenant)).toEqual(['heavy']);
    expect(q.size).toBe(0);
  });

  it('is ready when full or when the oldest call has waited maxWaitUs', () => {
    const q = new FairBatchQueue<ReturnType<typeof call>>({ maxBatch: 3, maxWaitUs: 500, maxQueued: 100 });
    expect(q.waitUs(0)).toBe(Infinity);
    q.push(call('a', 1000));
    q.push(call('b', 1200));
    expect(q.waitUs(1100)).toBe(400);
    expect(q.waitUs(1600)).toBe(0);
    q.push(call('c', 1300));
    expect(q.waitUs(1300)).toBe(0);
  });

  it('refuses past maxQueued and lets a cancelled call leave', () => {
    const q = new FairBatchQueue<ReturnType<typeof call>>({ maxBatch: 8, maxWaitUs: 0, maxQueued: 2 });
    const first = call('a');
    expect(q.push(first)).toBe(true);
    expect(q.push(call('a'))).toBe(true);
    expect(q.push(call('b'))).toBe(false);
    expect(q.remove(first)).toBe(true);
    expect(q.remove(first)).toBe(false);
    expect(q.push(call('b'))).toBe(true);
    expect(q.take().map((c) => c.tenant)).toEqual(['a', 'b']);
  });
});
