import { describe, expect, it } from 'vitest';
import { parsePrometheus, PrometheusParseError } from './prometheus.ts';

describe('parsePrometheus', () => {
  it('reads what prom-client writes: comments, labels, histograms, special values', () => {
    const text = [
      '# HELP islet_cpu_seconds_total Isolate CPU time',
      '# TYPE islet_cpu_seconds_total counter',
      'islet_cpu_seconds_total{function="hello"} 0.25',
      'islet_limit_kills_total{function="hog",limit="cpu"} 3',
      'islet_request_duration_seconds_bucket{le="+Inf",function="hello"} 10',
      'islet_isolates_alive 4 1712345678000',
      'odd{msg="a \\"quoted\\" \\\\ back\\nslash", x="1",} NaN',
      'neg -Inf',
      '',
    ].join('\n');
    expect(parsePrometheus(text)).toEqual([
      { name: 'islet_cpu_seconds_total', labels: { function: 'hello' }, value: 0.25 },
      { name: 'islet_limit_kills_total', labels: { function: 'hog', limit: 'cpu' }, value: 3 },
      { name: 'islet_request_duration_seconds_bucket', labels: { le: '+Inf', function: 'hello' }, value: 10 },
      { name: 'islet_isolates_alive', labels: {}, value: 4 },
      { name: 'odd', labels: { msg: 'a "quoted" \\ back\nslash', x: '1' }, value: NaN },
      { name: 'neg', labels: {}, value: -Infinity },
    ]);
  });

  it('says which line it cannot read', () => {
    expect(() => parsePrometheus('ok 1\nbroken{function="x} 1')).toThrow(PrometheusParseError);
    expect(() => parsePrometheus('ok 1\nbroken{function="x} 1')).toThrow(/line 2/);
    expect(() => parsePrometheus('name notanumber')).toThrow(/bad value/);
    expect(() => parsePrometheus('{a="b"} 1')).toThrow(/no metric name/);
  });
});
