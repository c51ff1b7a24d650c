import { describe, expect, it } from 'vitest';
import { QuarantineRecord } from './quarantine.ts';
import { DEFAULT_QUARANTINE } from './sched-options.ts';

const o = { ...DEFAULT_QUARANTINE, strikes: 3, windowMs: 1_000, baseMs: 100, maxMs: 350, forgiveAfterMs: 5_000 };

describe('QuarantineRecord', () => {
  it('quarantines after enough strikes in the window, for a period that doubles up to the cap', () => {
    const q = new QuarantineRecord();
    expect(q.strike(0, o)).toBeUndefined();
    expect(q.strike(10, o)).toBeUndefined();
    expect(q.strike(20, o)).toBe(100);
    expect(q.until).toBe(120);
    expect(q.retryAfterS(21)).toBe(1);
    // A request that was already running is killed during the quarantine: it does not extend it.
    expect(q.strike(30, o)).toBeUndefined();
    expect(q.until).toBe(120);
    // On probation after its release: each strike sends it back, for twice as long.
    const periods = [];
    for (let round = 0; round < 3; round++) periods.push(q.strike(200 + round * 500, o));
    expect(periods).toEqual([200, 350, 350]);
    expect(q.count).toBe(4);
  });

  it('does not count strikes spread wider than the window, and forgives a quiet function', () => {
    const q = new QuarantineRecord();
    for (let i = 0; i < 10; i++) expect(q.strike(i * 600, o)).toBeUndefined();
    q.strike(10_000, o);
    q.strike(10_001, o);
    expect(q.strike(10_002, o)).toBe(100);
    expect(q.strike(10_200, o)).toBe(200);
    // Forgiven after forgiveAfterMs without a strike: a full window of strikes again, from baseMs.
    q.strike(20_000, o);
    q.strike(20_001, o);
    expect(q.strike(20_002, o)).toBe(100);
  });
});
