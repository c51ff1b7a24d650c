// Prometheus metrics for GET /_islet/metrics (names in the shared contract; `islet bench` reads
// them). The request path only bumps plain numbers in a per-function meter (a status count and a
// latency bucket); counters, gauges and the latency histogram are filled from those numbers and
// from the engine's state when a scrape collects them, so no label set is hashed per request.
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { ShedReason } from '../errors.ts';

export type LimitLabel = 'cpu' | 'memory' | 'wall';

/** What the engine shows at scrape time, per function and for the process. */
export interface MetricsSource {
  isolatesAlive(): number;
  eventLoopLagSeconds(): number;
  functions(): Iterable<FunctionGauges>;
  /** Processes of sandboxes in other tiers, by function. */
  sandboxProcesses(): Iterable<{ fn: string; pid: number; cpuPercent: number; rssBytes: number }>;
  /** The accelerator pool's models (none until a function with an AI binding started it). */
  models(): Iterable<ModelGauges>;
}

/** One model of the accelerator pool, as a scrape sees it (AccelPool.gauges). */
export interface ModelGauges {
  name: string;
  queued: number;
  calls: number;
  batches: number;
  failedBatches: number;
  stoppedBatches: number;
}

export interface FunctionGauges {
  name: string;
  cpuNs: number;
  heapBytes: number;
  queueLength: number;
  replicas: number;
  /** WebSockets its isolates hold open. */
  webSockets: number;
  /** Bytes of responses its Cache API keeps. */
  cacheBytes: number;
}

/** Request latency buckets, in seconds: sub-millisecond hello answers up to the wall-clock limit. */
const DURATION_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One function's counts; the engine keeps it on the function and bumps it on the request path. */
export class FunctionMeter {
  /** Requests answered, by HTTP status. */
  readonly statuses = new Map<number, number>();
  coldStarts = 0;
  readonly limitKills: Record<LimitLabel, number> = { cpu: 0, memory: 0, wall: 0 };
  readonly shed: Partial<Record<ShedReason, number>> = {};
  /** Requests per latency bucket (not cumulative; the last one is +Inf). */
  readonly buckets = new Float64Array(DURATION_BUCKETS_S.length + 1);
  secondsSum = 0;

  served(status: number, seconds: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    let i = 0;
    while (i < DURATION_BUCKETS_S.length && seconds > DURATION_BUCKETS_S[i]!) i++;
    this.buckets[i]!++;
    this.secondsSum += seconds;
  }
}

/** islet_request_duration_seconds, written from the meters' buckets at scrape time. */
function durationHistogram(meters: Map<string, FunctionMeter>): Metric {
  const name = 'islet_request_duration_seconds';
  const help = 'Time from arrival to answer, queueing included';
  const get = () => {
    const values: { metricName: string; labels: Record<string, string>; value: number }[] = [];
    for (const [fn, meter] of meters) {
      let cumulative = 0;
      meter.buckets.forEach((n, i) => {
        cumulative += n;
        const le = i < DURATION_BUCKETS_S.length ? String(DURATION_BUCKETS_S[i]) : '+Inf';
        values.push({ metricName: `${name}_bucket`, labels: { le, function: fn }, value: cumulative });
      });
      values.push({ metricName: `${name}_sum`, labels: { function: fn }, value: meter.secondsSum });
      values.push({ metricName: `${name}_count`, labels: { function: fn }, value: cumulative });
    }
    return { name, help, type: 'histogram', values, aggregator: 'sum' };
  };
  // prom-client's registry takes any object that answers get() like its own metrics do.
  return { name, help, type: 'histogram', get } as unknown as Metric;
}

export class EngineMetrics {
  readonly registry = new Registry();
  readonly #meters = new Map<string, FunctionMeter>();
  /** Requests for a function that is not deployed (404 no-such-function): no label, whatever the Host. */
  readonly unrouted: Counter;

  constructor(source: MetricsSource) {
    const r = this.registry;
    const meters = this.#meters;
    collectDefaultMetrics({ register: r });
    this.unrouted = new Counter({ name: 'islet_unrouted_requests_total', help: 'Requests for no deployed function (404 no-such-function)', registers: [r] });
    r.registerMetric(durationHistogram(meters));
    // Counters are set from the meters' totals at scrape time: the request path never hashes labels.
    const fromMeters = <L extends string>(name: string, help: string, labelNames: L[], fill: (c: Counter<L>, fn: string, m: FunctionMeter) => void) =>
      new Counter<L>({
        name, help, labelNames, registers: [r],
        collect() {
          this.reset();
          for (const [fn, meter] of meters) fill(this, fn, meter);
        },
      });
    fromMeters('islet_requests_total', 'Requests answered, by status', ['function', 'status'], (c, fn, m) => {
      for (const [status, n] of m.statuses) c.inc({ function: fn, status: String(status) }, n);
    });
    fromMeters('islet_cold_starts_total', 'Requests that had to boot an isolate first', ['function'], (c, fn, m) => {
      if (m.coldStarts) c.inc({ function: fn }, m.coldStarts);
    });
    fromMeters('islet_limit_kills_total', 'Sandboxes stopped for a limit', ['function', 'limit'], (c, fn, m) => {
      for (const [limit, n] of Object.entries(m.limitKills)) if (n) c.inc({ function: fn, limit }, n);
    });
    fromMeters('islet_shed_total', 'Requests refused by admission control', ['function', 'reason'], (c, fn, m) => {
      for (const [reason, n] of Object.entries(m.shed)) if (n) c.inc({ function: fn, reason }, n);
    });
    new Counter({
      name: 'islet_cpu_seconds_total', help: 'CPU time of the function\'s isolates', labelNames: ['function'], registers: [r],
      collect() {
        this.reset();
        for (const f of source.functions()) if (f.cpuNs > 0) this.inc({ function: f.name }, f.cpuNs / 1e9);
      },
    });
    const perFunction = (name: string, help: string, value: (f: FunctionGauges) => number) =>
      new Gauge({
        name, help, labelNames: ['function'], registers: [r],
        collect() {
          this.reset();
          for (const f of source.functions()) this.set({ function: f.name }, value(f));
        },
      });
    perFunction('islet_heap_bytes', 'Heap used by the function\'s isolates', (f) => f.heapBytes);
    perFunction('islet_queue_length', 'Requests waiting for a replica', (f) => f.queueLength);
    perFunction('islet_replicas', 'Isolates serving the function', (f) => f.replicas);
    perFunction('islet_websockets_open', 'WebSockets the function\'s isolates hold open', (f) => f.webSockets);
    perFunction('islet_cache_bytes', 'Bytes of responses the function\'s Cache API keeps', (f) => f.cacheBytes);
    new Gauge({
      name: 'islet_isolates_alive', help: 'Live isolates (all functions, booting included)', registers: [r],
      collect() {
        this.set(source.isolatesAlive());
      },
    });
    new Gauge({
      name: 'islet_event_loop_lag_seconds', help: 'Event-loop lag: how late the scheduler\'s last tick ran', registers: [r],
      collect() {
        this.set(source.eventLoopLagSeconds());
      },
    });
    const sandboxGauge = (name: string, help: string, value: (p: { cpuPercent: number; rssBytes: number }) => number) =>
      new Gauge({
        name, help, labelNames: ['function', 'pid'], registers: [r],
        collect() {
          this.reset();
          for (const p of source.sandboxProcesses()) this.set({ function: p.fn, pid: String(p.pid) }, value(p));
        },
      });
    sandboxGauge('islet_sandbox_process_cpu_percent', 'CPU of sandbox processes (process tiers), percent of one core', (p) => p.cpuPercent);
    sandboxGauge('islet_sandbox_process_rss_bytes', 'Resident memory of sandbox processes (process tiers)', (p) => p.rssBytes);
    // The accelerator pool, by model: what /_islet/status shows, for alerting on a model whose
    // batches fail or whose queue stays full.
    const perModel = (type: 'counter' | 'gauge', name: string, help: string, value: (m: ModelGauges) => number) => {
      const collect = function (this: Counter<'model'> | Gauge<'model'>) {
        this.reset();
        for (const m of source.models()) {
          const v = value(m);
          if (this instanceof Gauge) this.set({ model: m.name }, v);
          else if (v > 0) this.inc({ model: m.name }, v);
        }
      };
      if (type === 'gauge') new Gauge({ name, help, labelNames: ['model'], registers: [r], collect });
      else new Counter({ name, help, labelNames: ['model'], registers: [r], collect });
    };
    perModel('counter', 'islet_ai_calls_total', 'env.AI calls the accelerator pool ran, by model', (m) => m.calls);
    perModel('counter', 'islet_ai_batches_total', 'Batches the accelerator pool ran, by model', (m) => m.batches);
    perModel('counter', 'islet_ai_failed_batches_total', 'Batches that failed (a backend error, a crashed worker, a model that did not load)', (m) => m.failedBatches);
    perModel('counter', 'islet_ai_stopped_batches_total', 'Batches stopped because every caller gave up (their worker replaced)', (m) => m.stoppedBatches);
    perModel('gauge', 'islet_ai_queue_length', 'env.AI calls waiting for a batch, by model', (m) => m.queued);
  }

  /** The meter of function `fn`, created on first use and kept across redeploys. */
  meter(fn: string): FunctionMeter {
    let meter = this.#meters.get(fn);
    if (!meter) {
      meter = new FunctionMeter();
      this.#meters.set(fn, meter);
    }
    return meter;
  }

  /** The function was removed: its series go. */
  drop(fn: string): void {
    this.#meters.delete(fn);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
