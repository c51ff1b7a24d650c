// WebGPU turns: one step at a time within a thread, across threads, and past a holder that died.
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createTurnWord, GpuTurns, turnValue } from './gpu-turns.ts';

describe('GpuTurns', () => {
  it('runs one step at a time within a thread, in order, and a failed step frees the turn', async () => {
    const turns = new GpuTurns(createTurnWord());
    const log: string[] = [];
    const step = (name: string, ms: number, fail = false) => turns.take(async () => {
      log.push(`${name}>`);
      await sleep(ms);
      log.push(`<${name}`);
      if (fail) throw new Error(`${name} failed`);
      return name;
    });
    const results = await Promise.allSettled([step('a', 10), step('b', 1, true), step('c', 1)]);
    expect(log).toEqual(['a>', '<a', 'b>', '<b', 'c>', '<c']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('runs one step at a time across threads sharing the word', async () => {
    const word = createTurnWord();
    const inside = new SharedArrayBuffer(4);
    // Every thread starts at once on a word never taken: a device run with 16 cores once caught
    // two threads inside together here (the holder and its lease were then two words).
    const workers = Array.from({ length: 4 }, () => new Worker(new URL('./gpu-turns-worker.test-helper.ts', import.meta.url), { workerData: { word, inside, turns: 25 } }));
    const most = await Promise.all(workers.map(async (w) => (await once(w, 'message'))[0] as number));
    expect(most).toEqual([1, 1, 1, 1]);
    expect(new BigInt64Array(word)[0]).toBe(0n);
  });

  it('waits for a live holder, and takes over from one whose lease ran out', async () => {
    const word = createTurnWord();
    const value = new BigInt64Array(word);
    const nowS = Math.floor(Date.now() / 1000);
    // Another thread (id 98) holds the turn with its lease running: the step waits for it.
    Atomics.store(value, 0, turnValue(99, nowS + 60));
    let ran = false;
    const waiting = new GpuTurns(word).take(async () => { ran = true; });
    await sleep(30);
    expect(ran).toBe(false);
    Atomics.store(value, 0, 0n);
    Atomics.notify(value, 0);
    await waiting;
    expect(ran).toBe(true);
    // A holder that ended without giving the turn back: its lease is over, the turn is taken.
    Atomics.store(value, 0, turnValue(99, nowS - 1));
    await expect(new GpuTurns(word).take(async () => 'taken over')).resolves.toBe('taken over');
    expect(Atomics.load(value, 0)).toBe(0n);
  });
});
