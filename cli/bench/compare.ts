// `islet bench --compare a.json b.json`: two saved runs side by side, the ratio b/a, and a 95%
// bootstrap interval on the difference of medians, p99 and req/s. When the interval holds zero
// the difference is reported as noise, whatever the ratio looks like.
import { bootstrapDifference, mean, quantile, type Interval } from './bootstrap.ts';
import type { BenchReport } from './report.ts';
import { alignColumns } from './table.ts';

export interface ComparedMetric {
  metric: 'req/s' | 'p50' | 'p99';
  unit: 'req/s' | 'ms';
  a: number;
  b: number;
  /** b / a */
  ratio: number;
  interval: Interval;
  /** 'noise' when the interval contains zero; otherwise whether b is better or worse than a. */
  verdict: 'noise' | 'better' | 'worse';
}

export function compareReports(a: BenchReport, b: BenchReport): ComparedMetric[] {
  const latency = (metric: 'p50' | 'p99', q: number): ComparedMetric => {
    const i = bootstrapDifference(a.samples, b.samples, quantile(q));
    const scaled = { ...i, difference: i.difference / 1000, low: i.low / 1000, high: i.high / 1000 };
    return verdict({ metric, unit: 'ms', a: a.latencyMs[metric], b: b.latencyMs[metric], interval: scaled }, false);
  };
  const rps = bootstrapDifference(fullSeconds(a), fullSeconds(b), mean);
  return [
    verdict({ metric: 'req/s', unit: 'req/s', a: a.requests.perSecond, b: b.requests.perSecond, interval: rps }, true),
    latency('p50', 0.5),
    latency('p99', 0.99),
  ];
}

export function formatComparison(aName: string, bName: string, rows: ComparedMetric[]): string {
  const lines = [`a: ${aName}`, `b: ${bName}`, ''];
  const table = [['metric', 'a', 'b', 'b/a', 'b−a (95% CI)', 'verdict']];
  for (const r of rows) {
    table.push([
      r.metric,
      fmt(r.a, r.unit),
      fmt(r.b, r.unit),
      `${r.ratio.toFixed(3)}×`,
      `${signed(r.interval.difference)} [${signed(r.interval.low)}, ${signed(r.interval.high)}]`,
      r.verdict === 'noise' ? 'within noise' : r.verdict === 'better' ? 'b is better' : 'b is worse',
    ]);
  }
  lines.push(...alignColumns(table));
  if (rows.some((r) => r.interval.resampled === 'requests')) lines.push('', 'note: a run had under 5 seconds, so single requests were resampled; the intervals are too narrow.');
  return lines.join('\n');
}

function verdict(m: Omit<ComparedMetric, 'ratio' | 'verdict'>, higherIsBetter: boolean): ComparedMetric {
  const { low, high } = m.interval;
  const noise = low <= 0 && high >= 0;
  const bHigher = low > 0;
  return { ...m, ratio: m.a === 0 ? NaN : m.b / m.a, verdict: noise ? 'noise' : bHigher === higherIsBetter ? 'better' : 'worse' };
}

/** Requests per whole second: the last, partial second would read as a slowdown. */
function fullSeconds(r: BenchReport): number[][] {
  return r.timeline.slice(0, Math.max(1, Math.floor(r.elapsedS))).map((s) => [s.requests]);
}

function fmt(n: number, unit: string): string {
  return unit === 'ms' ? `${n.toFixed(3)} ms` : `${Math.round(n)} req/s`;
}

function signed(n: number): string {
  const digits = Math.abs(n) >= 100 ? 0 : 3;
  return `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`;
}
