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
    // Requests that were already running are killed during the quarantine (a burst, more than a
    // window's worth): they neither extend it nor count towards the next.
    for (let t = 30; t < 40; t++) expect(q.strike(t, o)).toBeUndefined();
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

  it('counts the quiet spell that forgives from the end of the last quarantine, not from its last strike', () => {
    // A quarantine longer than forgiveAfterMs has no strikes in it (its requests are refused): a
    // function that kills itself again at once after it must not start over from baseMs.
    const long = { ...o, maxMs: 800, forgiveAfterMs: 500 };
    const q = new QuarantineRecord();
    q.strike(0, long);
    q.strike(1, long);
    const periods = [q.strike(2, long)];
    for (let round = 0; round < 4; round++) periods.push(q.strike(q.until + 10, long));
    expect(periods).toEqual([100, 200, 400, 800, 800]);
  });

  it('does not quarantine a function whose other requests are answered: the kills must be a large share', () => {
    const q = new QuarantineRecord();
    // A client sends a killing request between every two answered ones: a third of the requests.
    for (let i = 0; i < 30; i++) {
      q.answered();
      q.answered();
      expect(q.strike(i * 10, o)).toBeUndefined();
    }
    expect(q.killShare).toBeLessThan(0.5);
    // Everyone else stops; the kills alone soon make the share, and the strikes then count.
    const periods = [];
    for (let i = 0; i < 6; i++) periods.push(q.strike(400 + i * 10, o));
    expect(periods.filter((p) => p !== undefined)).toEqual([100]);
    expect(q.killShare).toBeGreaterThanOrEqual(0.5);
  });

  it('judges probation by the share as well', () => {
    const q = new QuarantineRecord();
    for (let i = 0; i < 3; i++) q.strike(i, o);
    expect(q.until).toBe(102);
    // Released, the function's clients come back: one client's killing request among many answers
    // does not send it back.
    for (let i = 0; i < 40; i++) q.answered();
    expect(q.strike(200, o)).toBeUndefined();
  });

  it('counts work killed after its answer as a killed request, not as one more request', () => {
    const q = new QuarantineRecord();
    // Every request is answered, then its timer spins until killed: every request ends in a kill.
    const periods = [];
    for (let i = 0; i < 3; i++) {
      q.answered();
      periods.push(q.strike(i * 10, o, false));
    }
    expect(periods).toEqual([undefined, undefined, 100]);
    expect(q.killShare).toBe(1);
  });

  it('judges by strikes alone with minKillShare 0', () => {
    const q = new QuarantineRecord();
    const alone = { ...o, minKillShare: 0 };
    for (let i = 0; i < 20; i++) q.answered();
    q.strike(0, alone);
    q.strike(1, alone);
    expect(q.strike(2, alone)).toBe(100);
  });
});
