import { describe, expect, it } from 'vitest';
import { RunSlots } from './run-slots.ts';

/** A call whose end the test decides: `end()` settles what it returned. */
function controlled(log: string[], name: string) {
  let end!: () => void;
  let fail!: (err: Error) => void;
  const call = () => {
    log.push(`start ${name}`);
    return new Promise<void>((resolve, reject) => [end, fail] = [resolve, reject]);
  };
  return { call, end: () => end(), fail: (err: Error) => fail(err) };
}

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RunSlots', () => {
  it('runs at most `size` calls at once and starts the others in arrival order', async () => {
    const slots = new RunSlots({ size: 2, overdueMs: 10_000 });
    const log: string[] = [];
    const calls = ['a', 'b', 'c', 'd'].map((n) => controlled(log, n));
    for (const c of calls) slots.run(c.call);
    expect(log).toEqual(['start a', 'start b']);
    expect([slots.running, slots.waiting]).toEqual([2, 2]);
    calls[1]!.end();
    await tick();
    expect(log).toEqual(['start a', 'start b', 'start c']);
    calls[0]!.fail(new Error('a call that fails frees its place too'));
    await tick();
    expect(log.at(-1)).toBe('start d');
    calls[2]!.end();
    calls[3]!.end();
    await tick();
    expect([slots.running, slots.waiting]).toEqual([0, 0]);
  });

  it('frees the place of a call that returns nothing or throws', () => {
    const slots = new RunSlots({ size: 1 });
    const log: string[] = [];
    slots.run(() => {
      log.push('sync');
      return undefined;
    });
    expect(() => slots.run(() => {
      throw new Error('boom');
    })).toThrow('boom');
    slots.run(() => {
      log.push('after');
      return undefined;
    });
    expect(log).toEqual(['sync', 'after']);
    expect(slots.running).toBe(0);
  });

  it('an overdue call still occupies its thread: the others share the remaining places', async () => {
    const slots = new RunSlots({ size: 3, overdueMs: 100 });
    const log: string[] = [];
    const hog = controlled(log, 'hog');
    const quick = ['q1', 'q2', 'q3'].map((n) => controlled(log, n));
    slots.run(hog.call);
    await sleep(120);
    for (const q of quick) slots.run(q.call);
    expect(log).toEqual(['start hog', 'start q1', 'start q2']);
    // The hog is overdue and no longer holds a place, but its thread is still busy: q3 waits.
    await sleep(10);
    expect(log).not.toContain('start q3');
    quick[0]!.end();
    await tick();
    expect(log.at(-1)).toBe('start q3');
    quick[1]!.end();
    quick[2]!.end();
    hog.end();
    await tick();
    expect(slots.running).toBe(0);
  });

  it('always lets one call start when overdue calls take every place, then one per overdue period', async () => {
    const slots = new RunSlots({ size: 2, overdueMs: 200 });
    const log: string[] = [];
    const hogs = ['h1', 'h2'].map((n) => controlled(log, n));
    for (const h of hogs) slots.run(h.call);
    const next = controlled(log, 'next');
    const after = controlled(log, 'after');
    slots.run(next.call);
    slots.run(after.call);
    while (!log.includes('start next')) await sleep(5);
    // `next` started once both hogs were overdue; `after` waits for it to end or be overdue.
    expect(log).not.toContain('start after');
    next.end();
    await tick();
    expect(log).toContain('start after');
    for (const h of hogs) h.end();
    after.end();
    await tick();
    expect(slots.running).toBe(0);
  });

  it('starts thousands of waiting calls that end at once without growing the stack', () => {
    const slots = new RunSlots({ size: 1 });
    let release!: () => void;
    slots.run(() => new Promise<void>((r) => (release = r)));
    let ran = 0;
    // Calls for an isolate that died meanwhile: they end without running anything.
    for (let i = 0; i < 50_000; i++) slots.run(() => void ran++);
    release();
    return new Promise<void>((done) => setImmediate(() => {
      expect(ran).toBe(50_000);
      expect(slots.waiting).toBe(0);
      done();
    }));
  });
});
