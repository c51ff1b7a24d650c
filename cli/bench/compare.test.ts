import { describe, expect, it } from 'vitest';
import { bootstrapDifference, quantile } from './bootstrap.ts';
import { compareReports, formatComparison } from './compare.ts';
import type { BenchReport } from './report.ts';

/** Deterministic pseudo-random latencies around `centerUs`, grouped in seconds. */
function seconds(n: number, centerUs: number, seed: number): number[][] {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: n }, () => Array.from({ length: 200 }, () => Math.round(centerUs * (0.5 + next()) + (next() < 0.01 ? centerUs * 5 : 0))));
}

function report(samples: number[][], rps: number): BenchReport {
  const all = samples.flat().sort((a, b) => a - b);
  const q = (p: number) => all[Math.ceil(p * all.length) - 1]! / 1000;
  return {
    elapsedS: samples.length,
    requests: { total: all.length, perSecond: rps },
    latencyMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: all.at(-1)! / 1000, mean: 0 },
    timeline: samples.map((_, i) => ({ second: i, requests: rps + (i % 3) * 50 - 50, errors: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 })),
    samples,
  } as unknown as BenchReport;
}

describe('bootstrapDifference', () => {
  it('is centred on the observed difference and brackets it', () => {
    const i = bootstrapDifference(seconds(10, 1000, 1), seconds(10, 1500, 2), quantile(0.5));
    expect(i.resampled).toBe('seconds');
    expect(i.difference).toBeGreaterThan(400);
    expect(i.difference).toBeLessThan(600);
    expect(i.low).toBeLessThanOrEqual(i.difference);
    expect(i.high).toBeGreaterThanOrEqual(i.difference);
    expect(i.low).toBeGreaterThan(0);
  });

  it('contains zero for two samples of the same distribution', () => {
    const i = bootstrapDifference(seconds(10, 1000, 3), seconds(10, 1000, 4), quantile(0.5));
    expect(i.low).toBeLessThan(0);
    expect(i.high).toBeGreaterThan(0);
  });

  it('is reproducible, and falls back to single requests for short runs', () => {
    const a = seconds(2, 1000, 5);
    const b = seconds(2, 1100, 6);
    expect(bootstrapDifference(a, b, quantile(0.99))).toEqual(bootstrapDifference(a, b, quantile(0.99)));
    expect(bootstrapDifference(a, b, quantile(0.99)).resampled).toBe('requests');
  });

  it('refuses a run with no samples', () => {
    expect(() => bootstrapDifference([[]], [[1]], quantile(0.5))).toThrow(/without samples/);
  });
});

describe('compareReports', () => {
  it('says plainly when a difference is within the noise', () => {
    const rows = compareReports(report(seconds(10, 1000, 7), 20_000), report(seconds(10, 1000, 8), 20_010));
    expect(rows.map((r) => [r.metric, r.verdict])).toEqual([['req/s', 'noise'], ['p50', 'noise'], ['p99', 'noise']]);
    expect(formatComparison('a.json', 'b.json', rows)).toContain('within noise');
  });

  it('calls slower latency and fewer req/s worse, with ratios b/a', () => {
    const rows = compareReports(report(seconds(10, 1000, 9), 20_000), report(seconds(10, 2000, 10), 10_000));
    expect(rows.map((r) => [r.metric, r.verdict])).toEqual([['req/s', 'worse'], ['p50', 'worse'], ['p99', 'worse']]);
    expect(rows[0]!.ratio).toBeCloseTo(0.5);
    expect(rows[1]!.interval.low).toBeGreaterThan(0.5); // ms
    const reversed = compareReports(report(seconds(10, 2000, 10), 10_000), report(seconds(10, 1000, 9), 20_000));
    expect(reversed.map((r) => r.verdict)).toEqual(['better', 'better', 'better']);
    expect(formatComparison('a', 'b', reversed)).toMatch(/b is better/);
  });
});
