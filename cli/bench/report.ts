// The result of one run as one JSON document: what --json prints, --out writes, --compare,
// --assert and --chart read. Latencies in ms; `samples` keeps per-second latencies (µs) so that
// two saved runs can be compared with a bootstrap later.
import type * as hdr from 'hdr-histogram-js';
import { UsageError } from '../args.ts';
import type { BenchOptions, Stage } from './flags.ts';
import type { Recorder } from './recorder.ts';
import type { ServerView } from './server-metrics.ts';

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface GeneratorUse {
  /** CPU the load generator used, as a share of one core (above 100 with several threads). */
  cpuPercent: number;
  threads: number;
  /** True when it used nearly all of its cores: the numbers then measure the generator too. */
  saturated: boolean;
}

export interface BenchReport {
  tool: 'islet bench';
  version: 1;
  date: string;
  target: { urls: string[]; method: string; fixture?: string };
  model: 'closed' | 'open';
  settings: { connections: number; durationS: number; warmupS: number; timeoutS: number; rateRps?: number; stages?: Stage[]; correction: boolean; workers: number };
  elapsedS: number;
  requests: { total: number; perSecond: number };
  throughput: { bytesPerSecond: number };
  /** Latency as users see it; in the open model, from the intended send time unless --uncorrected. */
  latencyMs: LatencySummary;
  /** Open model: latency from the actual send, which hides the time requests waited to be sent. */
  rawLatencyMs?: LatencySummary;
  errors: { total: number; connect: number; timeout: number; reset: number; other: number; non2xx: number; byStatus: Record<string, number>; examples: Record<string, string> };
  routes: { url: string; requests: number; non2xx: number; latencyMs: LatencySummary }[];
  generator: GeneratorUse;
  server?: ServerView;
  timeline: { second: number; requests: number; errors: number; p50Ms: number; p99Ms: number; maxMs: number }[];
  /** Latency at percentiles spaced by "nines" (0, 90, 99, 99.9 ...), for the distribution chart. */
  distribution: { percentile: number; ms: number }[];
  /** Open model: the same for raw latencies. */
  rawDistribution?: { percentile: number; ms: number }[];
  /** Per second of the run, a uniform sample of its latencies in µs (for --compare). */
  samples: number[][];
}

export interface RunFacts {
  options: BenchOptions;
  recorder: Recorder;
  elapsedS: number;
  generator: GeneratorUse;
  server?: ServerView;
}

export function buildReport({ options, recorder, elapsedS, generator, server }: RunFacts): BenchReport {
  const open = options.rateRps !== undefined || options.stages !== undefined;
  const byStatus = Object.fromEntries([...recorder.statuses].sort(([a], [b]) => a - b).map(([s, n]) => [String(s), n]));
  const non2xx = [...recorder.statuses].reduce((n, [s, c]) => (s >= 200 && s <= 299 ? n : n + c), 0);
  return {
    tool: 'islet bench',
    version: 1,
    date: new Date().toISOString(),
    target: { urls: options.urls, method: options.method, ...(options.fixture && { fixture: options.fixture }) },
    model: open ? 'open' : 'closed',
    settings: {
      connections: options.connections,
      durationS: options.durationS,
      warmupS: options.warmupS,
      timeoutS: options.timeoutS,
      ...(options.rateRps !== undefined && { rateRps: options.rateRps }),
      ...(options.stages && { stages: options.stages }),
      correction: open && options.correction,
      workers: options.workers,
    },
    elapsedS: round(elapsedS, 3),
    requests: { total: recorder.requests, perSecond: round(recorder.requests / elapsedS, 1) },
    throughput: { bytesPerSecond: Math.round(recorder.bytes / elapsedS) },
    latencyMs: summarize(recorder.corrected),
    ...(open && { rawLatencyMs: summarize(recorder.raw) }),
    errors: { total: recorder.errorCount, ...recorder.errors, non2xx, byStatus, examples: Object.fromEntries(recorder.errorExamples) },
    routes: recorder.routes.map((r) => ({ url: r.url, requests: r.requests, non2xx: r.non2xx, latencyMs: summarize(r.histogram) })),
    generator,
    ...(server && { server }),
    timeline: recorder.seconds.map((s, second) => ({
      second,
      requests: s.requests,
      errors: s.errors,
      p50Ms: percentileMs(s.histogram, 50),
      p99Ms: percentileMs(s.histogram, 99),
      maxMs: ms(s.histogram.maxValue),
    })),
    distribution: distribution(recorder.corrected),
    ...(open && { rawDistribution: distribution(recorder.raw) }),
    samples: recorder.seconds.map((s) => s.samples),
  };
}

export function summarize(h: hdr.Histogram): LatencySummary {
  const at = (p: number) => percentileMs(h, p);
  return {
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: ms(h.maxValue),
    mean: ms(h.totalCount ? h.mean : 0),
  };
}

/** A percentile reads as the top of its bucket, which can lie just above the largest value. */
function percentileMs(h: hdr.Histogram, percentile: number): number {
  return ms(Math.min(h.getValueAtPercentile(percentile), h.maxValue));
}

function distribution(h: hdr.Histogram): { percentile: number; ms: number }[] {
  if (h.totalCount === 0) return [];
  const points: { percentile: number; ms: number }[] = [];
  // 0 to 5 nines in tenths: evenly spaced on the chart's log axis, up to the max.
  for (let nines = 0; nines <= 5; nines += 0.1) {
    const percentile = 100 * (1 - 10 ** -nines);
    points.push({ percentile: round(percentile, 4), ms: percentileMs(h, percentile) });
  }
  points.push({ percentile: 100, ms: ms(h.maxValue) });
  return points;
}

/** Fails loudly on a file that is not a report, naming what is missing. */
export function checkReport(value: unknown, source: string): BenchReport {
  const r = value as Partial<BenchReport> | null;
  if (!r || r.tool !== 'islet bench' || r.version !== 1 || !r.latencyMs || !r.requests || !Array.isArray(r.samples)) {
    throw new UsageError(`${source} is not an "islet bench --out" report (version 1)`);
  }
  return r as BenchReport;
}

function ms(us: number): number {
  return round(us / 1000, 3);
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
