// The scheduler's engine-wide knobs and their defaults, in one place. Units are in the names.
// Per-function ones (concurrency, maxReplicas, maxQueue) are limits: engine/limits.ts.
import { totalmem } from 'node:os';
import { ConfigError } from '../errors.ts';

export interface QuarantineOptions {
  /** Limit kills (cpu, memory, wall) within `windowMs` that put a function in quarantine. */
  strikes: number;
  windowMs: number;
  /** First quarantine period; each one that follows soon after doubles it, up to `maxMs`. */
  baseMs: number;
  maxMs: number;
  /** A function this long without a strike starts over at `baseMs`. */
  forgiveAfterMs: number;
}

export interface SchedOptions {
  /** A replica busier than this share of the tick on its own thread, with work waiting, calls for another. */
  scaleOutBusyShare: number;
  /** An extra replica is retired once the function's load has fit in one replica fewer for this long. */
  scaleInAfterMs: number;
  /** Longest a request waits in its function's queue before it is refused. */
  maxQueueWaitMs: number;
  /**
   * Requests in flight in all sandboxes together; past it requests wait in their function's queue
   * and are let in by deficit round robin.
   */
  maxInFlight: number;
  /** In-flight slot time a waiting function earns per deficit-round-robin round, in ms. */
  quantumMs: number;
  /** Event-loop lag (how late the scheduler's tick ran, twice in a row) past which the busiest functions are refused. */
  maxEventLoopLagMs: number;
  /** Process RSS past which functions over their share are refused. */
  maxRssMb: number;
  /** How often load, lag and memory are sampled, and replicas scaled. */
  tickMs: number;
  /** Repeat offenders are backed off; false turns quarantine off. */
  quarantine: QuarantineOptions | false;
}

export const DEFAULT_QUARANTINE: Readonly<QuarantineOptions> = Object.freeze({
  strikes: 5,
  windowMs: 10_000,
  baseMs: 1_000,
  maxMs: 60_000,
  forgiveAfterMs: 60_000,
});

export function defaultSchedOptions(): SchedOptions {
  return {
    scaleOutBusyShare: 0.8,
    scaleInAfterMs: 5_000,
    maxQueueWaitMs: 10_000,
    maxInFlight: 4_096,
    quantumMs: 5,
    maxEventLoopLagMs: 150,
    // Above residency's eviction bound (75%): eviction acts first, shedding when it cannot keep up.
    maxRssMb: Math.round((0.85 * totalmem()) / 1048576),
    tickMs: 100,
    quarantine: { ...DEFAULT_QUARANTINE },
  };
}

/** Defaults overridden by `overrides`; a bad value is a ConfigError naming it. */
export function resolveSchedOptions(overrides: Partial<SchedOptions> = {}): SchedOptions {
  const options = defaultSchedOptions();
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(key in options)) throw new ConfigError(`unknown scheduler option "${key}" (known: ${Object.keys(options).join(', ')})`);
    if (key === 'quarantine') {
      options.quarantine = value === false ? false : { ...DEFAULT_QUARANTINE, ...checkPositive(value as Partial<QuarantineOptions>, 'quarantine.') };
      continue;
    }
    checkPositive({ [key]: value }, '');
    (options as unknown as Record<string, unknown>)[key] = value;
  }
  return options;
}

function checkPositive<T extends object>(values: T, prefix: string): T {
  for (const [key, value] of Object.entries(values)) {
    if (typeof value !== 'number' || !(value > 0)) throw new ConfigError(`scheduler option ${prefix}${key} must be a positive number, got ${JSON.stringify(value)}`);
  }
  return values;
}
