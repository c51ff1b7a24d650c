import { describe, expect, it } from 'vitest';
import { niceCeil, renderChart } from './chart.ts';
import { BENCH_DEFAULTS, type BenchOptions } from './flags.ts';
import { Recorder } from './recorder.ts';
import { buildReport } from './report.ts';

/** Tags open and close in order (a well-formedness check without an XML parser). */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const [, close, name, selfClosing] of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (selfClosing) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name!);
  }
  return stack.length === 0;
}

function report(open: boolean) {
  const recorder = new Recorder(['http://x/<&>'], 0);
  for (let i = 0; i < 3000; i++) recorder.response(0, 200, 10, 1 + (i % 50) / 10, 1 + (i % 97) / 5, i);
  const options = { ...BENCH_DEFAULTS, urls: ['http://x/<&>'], headers: {}, body: undefined, correction: true, json: false, rateRps: open ? 1000 : undefined } as unknown as BenchOptions;
  return buildReport({ options, recorder, elapsedS: 3, generator: { cpuPercent: 10, threads: 1, saturated: false } });
}

describe('renderChart', () => {
  it('draws both panels as well-formed SVG, text escaped', () => {
    const svg = renderChart(report(false));
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(balanced(svg)).toBe(true);
    expect(svg).toContain('latency over time');
    expect(svg).toContain('latency distribution');
    expect(svg).toContain('http://x/&lt;&amp;&gt;');
    expect(svg.match(/<path /g)).toHaveLength(4); // p50, p99, max; one distribution
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('adds the raw distribution in the open model', () => {
    const svg = renderChart(report(true));
    expect(balanced(svg)).toBe(true);
    expect(svg).toContain('raw (uncorrected)');
    expect(svg.match(/<path /g)).toHaveLength(5);
  });

  it('rounds axes up to 1, 2 or 5 times a power of ten', () => {
    expect([niceCeil(0.7), niceCeil(1), niceCeil(1.2), niceCeil(3), niceCeil(7), niceCeil(4200)]).toEqual([1, 1, 2, 5, 10, 5000]);
  });
});
