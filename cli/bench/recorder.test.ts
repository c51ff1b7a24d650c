import { describe, expect, it } from 'vitest';
import { classifyError, Recorder, SAMPLES_PER_SECOND } from './recorder.ts';

describe('Recorder', () => {
  it('counts responses by route, status and second', () => {
    const r = new Recorder(['http://a/', 'http://b/'], 0);
    r.response(0, 200, 10, 1, 1, 100);
    r.response(1, 404, 5, 2, 3, 1500);
    r.response(1, 200, 5, 4, 4, 1600);
    expect(r.requests).toBe(3);
    expect(r.bytes).toBe(20);
    expect([...r.statuses]).toEqual([[200, 2], [404, 1]]);
    expect(r.routes.map((x) => [x.requests, x.non2xx])).toEqual([[1, 0], [2, 1]]);
    expect(r.seconds.map((s) => s.requests)).toEqual([1, 2]);
    expect(r.raw.maxValue).toBe(4000);
    // HDR keeps 3 significant digits: the median reads back as 3000 µs within 0.1%.
    expect(r.corrected.getValueAtPercentile(50)).toBeGreaterThanOrEqual(3000);
    expect(r.corrected.getValueAtPercentile(50)).toBeLessThanOrEqual(3003);
  });

  it('keeps a bounded, uniform sample per second', () => {
    const r = new Recorder(['http://a/'], 0);
    for (let i = 0; i < SAMPLES_PER_SECOND * 5; i++) r.response(0, 200, 0, i / 1000, i / 1000, 10);
    const samples = r.seconds[0]!.samples;
    expect(samples).toHaveLength(SAMPLES_PER_SECOND);
    // Values 0..5000 µs sampled uniformly: a sample mean near 2500, not near the first 1000.
    const mean = samples.reduce((s, v) => s + v, 0) / samples.length;
    expect(mean).toBeGreaterThan(2000);
    expect(mean).toBeLessThan(3000);
  });

  it('merges threads exactly: the merged histogram equals one recorder that saw everything', () => {
    const whole = new Recorder(['http://a/'], 0);
    const parts = [new Recorder(['http://a/'], 0), new Recorder(['http://a/'], 0)];
    for (let i = 0; i < 20_000; i++) {
      const ms = ((i * 7919) % 10_007) / 100; // spread 0..100 ms
      const at = (i % 3000);
      whole.response(0, i % 10 ? 200 : 503, 1, ms, ms * 2, at);
      parts[i % 2]!.response(0, i % 10 ? 200 : 503, 1, ms, ms * 2, at);
    }
    parts[1]!.error(Object.assign(new Error('x'), { code: 'ECONNRESET' }), 2500);
    const merged = new Recorder(['http://a/'], 0);
    for (const p of parts) merged.merge(p.snapshot());
    for (const q of [50, 90, 99, 99.9, 100]) {
      expect(merged.corrected.getValueAtPercentile(q)).toBe(whole.corrected.getValueAtPercentile(q));
      expect(merged.raw.getValueAtPercentile(q)).toBe(whole.raw.getValueAtPercentile(q));
    }
    expect(merged.requests).toBe(20_000);
    expect(merged.statuses.get(503)).toBe(2000);
    expect(merged.errors.reset).toBe(1);
    expect(merged.seconds.map((s) => s.requests)).toEqual(whole.seconds.map((s) => s.requests));
    expect(merged.seconds[2]!.errors).toBe(1);
    expect(merged.seconds[0]!.histogram.getValueAtPercentile(99)).toBe(whole.seconds[0]!.histogram.getValueAtPercentile(99));
    expect(merged.seconds[0]!.samples.length).toBeLessThanOrEqual(SAMPLES_PER_SECOND);
  });

  it('sorts errors into connect, timeout, reset and other', () => {
    const e = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    expect(classifyError(e('ECONNREFUSED'))).toBe('connect');
    expect(classifyError(e('UND_ERR_HEADERS_TIMEOUT'))).toBe('timeout');
    expect(classifyError(new Error('request timed out'))).toBe('timeout');
    expect(classifyError(e('ECONNRESET'))).toBe('reset');
    expect(classifyError({ cause: { code: 'ECONNREFUSED' } })).toBe('connect');
    expect(classifyError(new Error('parse error'))).toBe('other');
  });
});
