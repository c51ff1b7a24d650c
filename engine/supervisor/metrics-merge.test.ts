import { describe, expect, it } from 'vitest';
import { Registry, Counter, Histogram } from 'prom-client';
import { mergeMetrics } from './metrics-merge.ts';

async function engineText(requests: number): Promise<string> {
  const registry = new Registry();
  const counter = new Counter({ name: 'islet_requests_total', help: 'requests', labelNames: ['function', 'status'], registers: [registry] });
  const hist = new Histogram({ name: 'islet_request_duration_seconds', help: 'latency', labelNames: ['function'], buckets: [0.01, 0.1], registers: [registry] });
  counter.inc({ function: 'hello', status: '200' }, requests);
  hist.observe({ function: 'hello' }, 0.05);
  return `${await registry.metrics()}process_resident_memory_bytes 1234\n`;
}

describe('mergeMetrics', () => {
  it('labels every sample with its engine and keeps families together', async () => {
    const merged = mergeMetrics([await engineText(3), await engineText(5)], ['0', '1']);
    const lines = merged.trim().split('\n');
    expect(lines.filter((l) => l === '# TYPE islet_requests_total counter')).toHaveLength(1);
    expect(lines).toContain('islet_requests_total{engine="0",function="hello",status="200"} 3');
    expect(lines).toContain('islet_requests_total{engine="1",function="hello",status="200"} 5');
    expect(lines).toContain('islet_request_duration_seconds_bucket{engine="1",le="0.1",function="hello"} 1');
    expect(lines).toContain('process_resident_memory_bytes{engine="0"} 1234');
    // Samples of one family are contiguous: the format forbids interleaving.
    const typeIdx = lines.indexOf('# TYPE islet_request_duration_seconds histogram');
    const histLines = lines.slice(typeIdx + 1).filter((l) => !l.startsWith('#'));
    const firstOther = histLines.findIndex((l) => !l.startsWith('islet_request_duration_seconds'));
    expect(histLines.slice(0, firstOther === -1 ? undefined : firstOther)).toHaveLength(2 * 5); // 3 buckets, sum, count;
  });

  it('accepts empty input', () => {
    expect(mergeMetrics([], [])).toBe('');
    expect(mergeMetrics([''], ['0'])).toBe('');
  });
});
