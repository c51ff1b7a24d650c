// When an idle function's isolate is unloaded, and when it is booted again ahead of its next
// request. Two policies behind one interface:
//
// - FixedTtl: keep every isolate for a fixed time after its last request (Lambda-like, 10 min).
// - Histogram: the hybrid policy of Shahrad et al., "Serverless in the Wild" (ATC 2020, §4.2).
//   Per function, a histogram of idle times (time between the end of one request and the start of
//   the next) in 1-minute bins up to 4 hours. When it is representative, the isolate is unloaded
//   right after a request and pre-warmed at the histogram's head (5th percentile, minus 10%), then
//   kept until its tail (99th percentile, plus 10%). When it is not (too few idle times, or too
//   many beyond 4 hours), the policy falls back to a fixed keep-alive.

export interface KeepAliveDecision {
  /** Unload this long after the request ended (ms); Infinity never. */
  keepAliveMs: number;
  /** If set: unload now, and boot again this long after the request ended (ms). */
  prewarmAfterMs?: number;
}

export interface KeepAlivePolicy {
  readonly name: string;
  /** A request for `fn` arrived after it had been idle (nothing in flight) for `idleMs`. */
  recordArrival(fn: string, idleMs: number | undefined): void;
  /** What to do once `fn`'s in-flight requests have ended. */
  decide(fn: string): KeepAliveDecision;
  forget(fn: string): void;
}

export class FixedTtlPolicy implements KeepAlivePolicy {
  readonly name = 'fixed-ttl';
  readonly #ttlMs: number;

  constructor(ttlMs = 10 * 60_000) {
    this.#ttlMs = ttlMs;
  }

  recordArrival(_fn: string, _idleMs: number | undefined): void {}

  decide(_fn: string): KeepAliveDecision {
    return { keepAliveMs: this.#ttlMs };
  }

  forget(_fn: string): void {}
}

export interface HistogramOptions {
  /** Width of a histogram bin. Default 1 minute. */
  binMs?: number;
  /** Idle times longer than bins × binMs are out of bounds. Default 240 bins (4 hours). */
  bins?: number;
  /** Idle times needed before the histogram is trusted. Default 10. */
  minSamples?: number;
  /** Largest share of out-of-bounds idle times for the histogram to be trusted. Default 0.5. */
  maxOutOfBounds?: number;
  /** Keep-alive when the histogram is not trusted. Default 10 minutes. */
  fallbackMs?: number;
  /** Head and tail percentiles of the idle-time distribution. Defaults 5 and 99. */
  headPercentile?: number;
  tailPercentile?: number;
  /** Safety margin taken off the head and added to the tail. Default 0.1 (10%). */
  margin?: number;
}

const HISTOGRAM_DEFAULTS: Required<HistogramOptions> = {
  binMs: 60_000,
  bins: 240,
  minSamples: 10,
  maxOutOfBounds: 0.5,
  fallbackMs: 10 * 60_000,
  headPercentile: 5,
  tailPercentile: 99,
  margin: 0.1,
};

interface IdleHistogram {
  counts: Uint32Array;
  inBounds: number;
  outOfBounds: number;
}

export class HistogramPolicy implements KeepAlivePolicy {
  readonly name = 'histogram';
  readonly #o: Required<HistogramOptions>;
  readonly #histograms = new Map<string, IdleHistogram>();
  // decide() runs on every sweep for every idle function; the answer only changes on arrivals.
  readonly #decisions = new Map<string, KeepAliveDecision>();

  constructor(options: HistogramOptions = {}) {
    this.#o = { ...HISTOGRAM_DEFAULTS, ...options };
  }

  recordArrival(fn: string, idleMs: number | undefined): void {
    // A negative idle time is the wall clock stepping back, not a measurement: it has no bin, and
    // counted in bounds it would keep the percentile search from its target (the tail then reads 4 h).
    if (idleMs === undefined || !(idleMs >= 0)) return;
    this.#decisions.delete(fn);
    let h = this.#histograms.get(fn);
    if (!h) {
      h = { counts: new Uint32Array(this.#o.bins), inBounds: 0, outOfBounds: 0 };
      this.#histograms.set(fn, h);
    }
    const bin = Math.floor(idleMs / this.#o.binMs);
    if (bin >= this.#o.bins) {
      h.outOfBounds++;
    } else {
      h.counts[bin]!++;
      h.inBounds++;
    }
  }

  decide(fn: string): KeepAliveDecision {
    let decision = this.#decisions.get(fn);
    if (!decision) {
      decision = this.#decideFresh(fn);
      this.#decisions.set(fn, decision);
    }
    return decision;
  }

  #decideFresh(fn: string): KeepAliveDecision {
    const h = this.#histograms.get(fn);
    const total = h ? h.inBounds + h.outOfBounds : 0;
    if (!h || h.inBounds < this.#o.minSamples || h.outOfBounds / total > this.#o.maxOutOfBounds) {
      return { keepAliveMs: this.#o.fallbackMs };
    }
    // Percentiles over the in-bounds idle times, as bin edges: the head bin's start, the tail
    // bin's end.
    const headBin = this.#percentileBin(h, this.#o.headPercentile);
    const tailBin = this.#percentileBin(h, this.#o.tailPercentile);
    const head = headBin * this.#o.binMs * (1 - this.#o.margin);
    const tail = (tailBin + 1) * this.#o.binMs * (1 + this.#o.margin);
    // A head within the first bin means requests can come back at once: pre-warming buys
    // nothing, so keep the isolate loaded for the whole window.
    if (headBin === 0) return { keepAliveMs: tail };
    return { prewarmAfterMs: head, keepAliveMs: tail };
  }

  forget(fn: string): void {
    this.#histograms.delete(fn);
    this.#decisions.delete(fn);
  }

  #percentileBin(h: IdleHistogram, percentile: number): number {
    const wanted = Math.max(1, Math.ceil((percentile / 100) * h.inBounds));
    let seen = 0;
    for (let bin = 0; bin < h.counts.length; bin++) {
      seen += h.counts[bin]!;
      if (seen >= wanted) return bin;
    }
    return h.counts.length - 1;
  }
}
