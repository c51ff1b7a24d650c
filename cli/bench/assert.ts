// `--assert 'p99<5ms,errors=0,rps>20000'`: conditions on a report that make a run a CI gate.
// Parsed before the run, so a typo fails in a second and not after the load.
import { UsageError } from '../args.ts';
import type { BenchReport } from './report.ts';

const LATENCY = ['p50', 'p90', 'p99', 'p999', 'max', 'mean'] as const;
const COUNTS = ['errors', 'non2xx', 'timeouts', 'requests'] as const;
type Metric = (typeof LATENCY)[number] | (typeof COUNTS)[number] | 'rps';
type Operator = '<' | '<=' | '>' | '>=' | '=' | '!=';

export interface Condition {
  text: string;
  metric: Metric;
  operator: Operator;
  /** In ms for latencies, plain counts otherwise. */
  value: number;
}

const LATENCY_UNITS_MS: Record<string, number> = { us: 0.001, µs: 0.001, ms: 1, s: 1000 };

export function parseAssertions(text: string): Condition[] {
  return text.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
    const m = /^([a-z0-9/]+)\s*(<=|>=|!=|==|<|>|=)\s*([0-9.]+)\s*([a-zµ]*)$/i.exec(part);
    if (!m) throw new UsageError(`--assert: cannot read "${part}" (like p99<5ms, errors=0, rps>20000)`);
    const metric = (m[1]!.toLowerCase() === 'req/s' ? 'rps' : m[1]!.toLowerCase()) as Metric;
    const operator = (m[2] === '==' ? '=' : m[2]) as Operator;
    const number = Number(m[3]);
    const unit = m[4]!.toLowerCase();
    if (!Number.isFinite(number)) throw new UsageError(`--assert: "${m[3]}" is not a number in "${part}"`);
    if ((LATENCY as readonly string[]).includes(metric)) {
      const scale = LATENCY_UNITS_MS[unit || 'ms'];
      if (scale === undefined) throw new UsageError(`--assert: unknown unit "${unit}" in "${part}" (us, ms or s)`);
      return { text: part, metric, operator, value: number * scale };
    }
    if (metric === 'rps' || (COUNTS as readonly string[]).includes(metric)) {
      const scale = { '': 1, k: 1000 }[unit];
      if (scale === undefined) throw new UsageError(`--assert: ${metric} takes a plain number, not "${unit}", in "${part}"`);
      return { text: part, metric, operator, value: number * scale };
    }
    throw new UsageError(`--assert: unknown metric "${m[1]}" (known: ${[...LATENCY, 'rps', ...COUNTS].join(', ')})`);
  });
}

export function measured(report: BenchReport, metric: Metric): number {
  switch (metric) {
    case 'rps':
      return report.requests.perSecond;
    case 'errors':
      return report.errors.total;
    case 'non2xx':
      return report.errors.non2xx;
    case 'timeouts':
      return report.errors.timeout;
    case 'requests':
      return report.requests.total;
    default:
      return report.latencyMs[metric];
  }
}

/** The first condition the report breaks, as one line; undefined when all hold. */
export function firstFailure(report: BenchReport, conditions: Condition[]): string | undefined {
  for (const c of conditions) {
    const actual = measured(report, c.metric);
    if (!holds(actual, c.operator, c.value)) {
      const isLatency = (LATENCY as readonly string[]).includes(c.metric);
      const shown = isLatency ? `${actual} ms` : String(actual);
      return `assertion failed: ${c.text} (measured ${c.metric} = ${shown})`;
    }
  }
  return undefined;
}

function holds(actual: number, op: Operator, expected: number): boolean {
  switch (op) {
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
    case '=':
      return actual === expected;
    case '!=':
      return actual !== expected;
  }
}
