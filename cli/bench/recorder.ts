// Everything one run observes, kept as HDR histograms of microseconds so that runs recorded on
// several threads merge exactly (bucket counts add; no averaging of percentiles). Per second it
// also keeps a histogram for the timeline and a reservoir of latencies for the bootstrap.
import * as hdr from 'hdr-histogram-js';

export type ErrorKind = 'connect' | 'timeout' | 'reset' | 'other';

export const ERROR_KINDS: readonly ErrorKind[] = ['connect', 'timeout', 'reset', 'other'];

const HIGHEST_US = 3_600_000_000; // an hour: anything slower is clamped, not dropped
const SIGNIFICANT_DIGITS = 3;
/** Latencies kept per second for the bootstrap, whatever the rate: enough for a stable p99. */
export const SAMPLES_PER_SECOND = 1000;

export function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: SIGNIFICANT_DIGITS, bitBucketSize: 'packed', useWebAssembly: false });
}

interface Second {
  requests: number;
  errors: number;
  histogram: hdr.Histogram;
  /** Uniform sample of this second's latencies (µs), by reservoir sampling. */
  samples: number[];
}

interface Route {
  url: string;
  requests: number;
  non2xx: number;
  histogram: hdr.Histogram;
}

/** A recorder's state in plain data, to send from a worker thread and merge in the main one. */
export interface RecorderSnapshot {
  corrected: string;
  raw: string;
  bytes: number;
  statuses: Record<string, number>;
  errors: Record<ErrorKind, number>;
  errorExamples: Record<string, string>;
  routes: { requests: number; non2xx: number; histogram: string }[];
  seconds: { requests: number; errors: number; histogram: string; samples: number[]; seen: number }[];
}

export class Recorder {
  /** Latency as the user sees it: from the intended send time when correcting for coordinated omission. */
  readonly corrected = newHistogram();
  /** Latency from the moment the request was written. Same as `corrected` in the closed model. */
  readonly raw = newHistogram();
  bytes = 0;
  readonly statuses = new Map<number, number>();
  readonly errors: Record<ErrorKind, number> = { connect: 0, timeout: 0, reset: 0, other: 0 };
  /** One message per error code, so a report can say what went wrong without a log. */
  readonly errorExamples = new Map<string, string>();
  readonly routes: Route[];
  readonly seconds: Second[] = [];
  private readonly seen: number[] = [];
  readonly startMs: number;

  constructor(urls: string[], startMs: number) {
    this.routes = urls.map((url) => ({ url, requests: 0, non2xx: 0, histogram: newHistogram() }));
    this.startMs = startMs;
  }

  /** A response. Times in ms (performance.now() clock); the latency is stored in µs. */
  response(route: number, status: number, bytes: number, rawMs: number, correctedMs: number, atMs: number): void {
    const rawUs = toMicros(rawMs);
    const correctedUs = toMicros(correctedMs);
    this.raw.recordValue(rawUs);
    this.corrected.recordValue(correctedUs);
    this.bytes += bytes;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    const r = this.routes[route];
    if (r) {
      r.requests++;
      if (status < 200 || status > 299) r.non2xx++;
      r.histogram.recordValue(correctedUs);
    }
    const i = this.secondAt(atMs);
    const s = this.seconds[i]!;
    s.requests++;
    s.histogram.recordValue(correctedUs);
    const seen = ++this.seen[i]!;
    if (s.samples.length < SAMPLES_PER_SECOND) s.samples.push(correctedUs);
    else {
      const j = Math.floor(Math.random() * seen);
      if (j < SAMPLES_PER_SECOND) s.samples[j] = correctedUs;
    }
  }

  error(err: unknown, atMs: number): void {
    const kind = classifyError(err);
    this.errors[kind]++;
    const code = errorCode(err);
    if (!this.errorExamples.has(code)) this.errorExamples.set(code, (err as Error)?.message ?? String(err));
    this.seconds[this.secondAt(atMs)]!.errors++;
  }

  get requests(): number {
    return this.corrected.totalCount;
  }

  get errorCount(): number {
    return ERROR_KINDS.reduce((n, k) => n + this.errors[k], 0);
  }

  snapshot(): RecorderSnapshot {
    return {
      corrected: hdr.encodeIntoCompressedBase64(this.corrected),
      raw: hdr.encodeIntoCompressedBase64(this.raw),
      bytes: this.bytes,
      statuses: Object.fromEntries(this.statuses),
      errors: { ...this.errors },
      errorExamples: Object.fromEntries(this.errorExamples),
      routes: this.routes.map((r) => ({ requests: r.requests, non2xx: r.non2xx, histogram: hdr.encodeIntoCompressedBase64(r.histogram) })),
      seconds: this.seconds.map((s, i) => ({ requests: s.requests, errors: s.errors, histogram: hdr.encodeIntoCompressedBase64(s.histogram), samples: s.samples, seen: this.seen[i]! })),
    };
  }

  /** Adds another recorder's observations (same URLs, same start time). */
  merge(other: RecorderSnapshot): void {
    addEncoded(this.corrected, other.corrected);
    addEncoded(this.raw, other.raw);
    this.bytes += other.bytes;
    for (const [status, n] of Object.entries(other.statuses)) this.statuses.set(Number(status), (this.statuses.get(Number(status)) ?? 0) + n);
    for (const k of ERROR_KINDS) this.errors[k] += other.errors[k];
    for (const [code, message] of Object.entries(other.errorExamples)) if (!this.errorExamples.has(code)) this.errorExamples.set(code, message);
    other.routes.forEach((r, i) => {
      const mine = this.routes[i]!;
      mine.requests += r.requests;
      mine.non2xx += r.non2xx;
      addEncoded(mine.histogram, r.histogram);
    });
    other.seconds.forEach((s, i) => {
      const mine = this.seconds[this.secondAt(this.startMs + i * 1000)]!;
      mine.requests += s.requests;
      mine.errors += s.errors;
      addEncoded(mine.histogram, s.histogram);
      this.seen[i] = this.seen[i]! + s.seen;
      // Both reservoirs are uniform samples of their thread's second: keep shares in proportion.
      mine.samples = mergeSamples(mine.samples, this.seen[i]! - s.seen, s.samples, s.seen);
    });
  }

  private secondAt(atMs: number): number {
    const i = Math.max(0, Math.floor((atMs - this.startMs) / 1000));
    while (this.seconds.length <= i) {
      this.seconds.push({ requests: 0, errors: 0, histogram: newHistogram(), samples: [] });
      this.seen.push(0);
    }
    return i;
  }
}

export function classifyError(err: unknown): ErrorKind {
  const code = errorCode(err);
  const message = (err as Error)?.message ?? '';
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT'].includes(code)) return 'connect';
  if (code === 'ETIMEDOUT' || code.endsWith('_TIMEOUT') || /timed out/i.test(message)) return 'timeout';
  if (['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'].includes(code)) return 'reset';
  return 'other';
}

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : (err as Error)?.message ?? 'unknown';
}

function toMicros(ms: number): number {
  return Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000)));
}

function addEncoded(into: hdr.Histogram, encoded: string): void {
  const h = hdr.decodeFromCompressedBase64(encoded, 32, false);
  into.add(h);
  h.destroy();
}

function mergeSamples(a: number[], aSeen: number, b: number[], bSeen: number): number[] {
  const total = aSeen + bSeen;
  if (a.length + b.length <= SAMPLES_PER_SECOND || total === 0) return [...a, ...b];
  const fromA = Math.round((SAMPLES_PER_SECOND * aSeen) / total);
  return [...pick(a, fromA), ...pick(b, SAMPLES_PER_SECOND - fromA)];
}

/** `n` of `values` chosen at random (a partial Fisher-Yates shuffle of a copy). */
function pick(values: number[], n: number): number[] {
  const copy = [...values];
  const k = Math.min(n, copy.length);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(Math.random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, k);
}
