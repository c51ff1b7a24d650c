import { describe, expect, it } from 'vitest';
import { arrivalTimes, openStages } from './schedule.ts';

describe('arrivalTimes', () => {
  it('spaces a constant rate evenly', () => {
    const times = [...arrivalTimes(100, [{ durationS: 1, targetRps: 100 }])];
    expect(times).toHaveLength(100);
    expect(times[0]).toBe(0);
    expect(times[1]).toBeCloseTo(10);
    expect(times[99]).toBeCloseTo(990);
  });

  it('ramps linearly: a 0→100 req/s ramp over 10 s sends 500, denser at the end', () => {
    const times = [...arrivalTimes(0, [{ durationS: 10, targetRps: 100 }])];
    expect(times.length).toBeGreaterThanOrEqual(499);
    expect(times.length).toBeLessThanOrEqual(501);
    const firstHalf = times.filter((t) => t < 5000).length;
    expect(firstHalf).toBeGreaterThan(120);
    expect(firstHalf).toBeLessThan(130); // 1/4 of the arrivals fall in the first half of a linear ramp
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
  });

  it('chains stages from where the last one ended', () => {
    const times = [...arrivalTimes(0, [{ durationS: 1, targetRps: 100 }, { durationS: 1, targetRps: 100 }])];
    // 50 in the ramp, 100 at the flat rate.
    expect(times.length).toBeGreaterThanOrEqual(149);
    expect(times.length).toBeLessThanOrEqual(151);
    expect(times.filter((t) => t >= 1000).length).toBeGreaterThanOrEqual(99);
  });

  it('turns --rate and --duration into one flat stage', () => {
    expect(openStages(50, undefined, 3)).toEqual({ startRps: 50, stages: [{ durationS: 3, targetRps: 50 }] });
    expect(openStages(undefined, [{ durationS: 2, targetRps: 9 }], 99)).toEqual({ startRps: 0, stages: [{ durationS: 2, targetRps: 9 }] });
  });
});
