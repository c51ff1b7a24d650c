import { describe, expect, it } from 'vitest';
import { UsageError } from '../args.ts';
import { firstFailure, parseAssertions } from './assert.ts';
import type { BenchReport } from './report.ts';

const report = {
  requests: { total: 1000, perSecond: 25_000 },
  latencyMs: { p50: 0.5, p90: 1, p99: 4.2, p999: 9, max: 12, mean: 0.7 },
  errors: { total: 0, connect: 0, timeout: 0, reset: 0, other: 0, non2xx: 3, byStatus: {}, examples: {} },
} as unknown as BenchReport;

describe('--assert', () => {
  it('parses metrics, operators and units', () => {
    expect(parseAssertions('p99<5ms, errors=0,rps>20k,max<=0.5s,p50<800us,non2xx!=1')).toEqual([
      { text: 'p99<5ms', metric: 'p99', operator: '<', value: 5 },
      { text: 'errors=0', metric: 'errors', operator: '=', value: 0 },
      { text: 'rps>20k', metric: 'rps', operator: '>', value: 20_000 },
      { text: 'max<=0.5s', metric: 'max', operator: '<=', value: 500 },
      { text: 'p50<800us', metric: 'p50', operator: '<', value: 0.8 },
      { text: 'non2xx!=1', metric: 'non2xx', operator: '!=', value: 1 },
    ]);
  });

  it('passes when every condition holds', () => {
    expect(firstFailure(report, parseAssertions('p99<5ms,errors=0,rps>20000,requests>=1000'))).toBeUndefined();
  });

  it('names the first broken condition and the measured value', () => {
    expect(firstFailure(report, parseAssertions('errors=0,p99<4ms,rps>30000'))).toBe('assertion failed: p99<4ms (measured p99 = 4.2 ms)');
    expect(firstFailure(report, parseAssertions('non2xx=0'))).toBe('assertion failed: non2xx=0 (measured non2xx = 3)');
  });

  it.each(['p99', 'p99 < fast', 'latency<5ms', 'p99<5kg', 'rps>5ms'])('refuses %j', (text) => {
    expect(() => parseAssertions(text)).toThrow(UsageError);
  });
});
