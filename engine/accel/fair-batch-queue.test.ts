import { describe, expect, it } from 'vitest';
import { FairBatchQueue } from './fair-batch-queue.ts';

const call = (tenant: string, queuedUs = 0) => ({ tenant, queuedUs });

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

  it('starts the next batch with the tenants the last one did not reach', () => {
    const q = new FairBatchQueue<ReturnType<typeof call>>({ maxBatch: 2, maxWaitUs: 0, maxQueued: 100 });
    for (const t of ['a', 'b', 'c', 'a', 'b', 'c']) q.push(call(t));
    expect(q.take().map((c) => c.tenant)).toEqual(['a', 'b']);
    expect(q.take().map((c) => c.tenant)).toEqual(['c', 'a']);
    expect(q.take().map((c) => c.tenant)).toEqual(['b', 'c']);
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
