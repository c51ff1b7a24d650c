// The scheduler's engine-wide knobs and their defaults, in one place. Units are in the names.
// Per-function ones (concurrency, maxReplicas, maxQueue) are limits: engine/limits.ts.
import { totalmem } from 'node:os';
import { ConfigError } from '../errors.ts';

export interface QuarantineOptions {
  /** Limit kills (cpu, memory, wall) within `windowMs` that put a function in quarantine. */
  strikes: number;
  windowMs: number;
  /**
   * ...provided kills are at least this share of its recent finished requests (a moving average
   * over ~16), so that a few clients' killing requests cannot shut out everyone else's; 0 judges
   * by strikes alone.
   */
  minKillShare: number;
  /** First quarantine period; each one that follows soon after doubles it, up to `maxMs`. */
  baseMs: number;
  maxMs: number;
  /** A function this long without a strike starts over at `baseMs`. */
  forgiveAfterMs: number;
  /**
   * How long a quarantined function's refusal is held before it is sent (never past the end of
   * the quarantine); 0 sends it at once. A client that retries at once would otherwise get
   * refusals as fast as the event loop can write them, costing the host what a hello flood does.
   */
  holdMs: number;
  /** Refusals held at once, engine-wide; past it they are sent at once. */
  maxHeld: number;
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
  minKillShare: 0.5,
  baseMs: 1_000,
  maxMs: 60_000,
  forgiveAfterMs: 60_000,
  holdMs: 1_000,
  maxHeld: 1_024,
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

/** What a config may set: any option, and any part of `quarantine` (the rest keeps its default). */
export type SchedOverrides = Partial<Omit<SchedOptions, 'quarantine'>> & { quarantine?: Partial<QuarantineOptions> | false };

/** Defaults overridden by `overrides`; a bad value is a ConfigError naming it. */
export function resolveSchedOptions(overrides: SchedOverrides = {}): SchedOptions {
  const options = defaultSchedOptions();
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(key in options)) throw new ConfigError(`unknown scheduler option "${key}" (known: ${Object.keys(options).join(', ')})`);
    if (key === 'quarantine') {
      if (value !== false && (typeof value !== 'object' || value === null || Array.isArray(value))) {
        throw new ConfigError(`scheduler option "quarantine" must be false or an object of its options (${Object.keys(DEFAULT_QUARANTINE).join(', ')}), got ${JSON.stringify(value)}`);
      }
      if (value !== false) {
        const unknown = Object.keys(value as object).find((k) => !(k in DEFAULT_QUARANTINE));
        if (unknown !== undefined) throw new ConfigError(`unknown scheduler option "quarantine.${unknown}" (known: ${Object.keys(DEFAULT_QUARANTINE).join(', ')})`);
      }
      options.quarantine = value === false ? false : { ...DEFAULT_QUARANTINE, ...checkRanges(value as Partial<QuarantineOptions>, 'quarantine.') };
      if (options.quarantine !== false && options.quarantine.baseMs > options.quarantine.maxMs) {
        throw new ConfigError(`scheduler option quarantine.baseMs (${options.quarantine.baseMs}) must not be more than quarantine.maxMs (${options.quarantine.maxMs})`);
      }
      continue;
    }
    checkRanges({ [key]: value }, '');
    (options as unknown as Record<string, unknown>)[key] = value;
  }
  return options;
}

const DAY_MS = 86_400_000;

/**
 * What each option may be. Counts and times are whole numbers; `min: 0` is where 0 means "off".
 * Upper bounds too: past 2^31 ms Node's timers fire after 1 ms (a tickMs of 1e10 ticked every
 * millisecond, which also hid all event-loop lag), and a share past 1 never triggers.
 */
const RANGES: Record<string, { min: number; max: number; integer: boolean; share?: true }> = {
  scaleOutBusyShare: { min: 0.01, max: 1, integer: false, share: true },
  scaleInAfterMs: { min: 1, max: DAY_MS, integer: true },
  maxQueueWaitMs: { min: 1, max: DAY_MS, integer: true },
  maxInFlight: { min: 1, max: 1_000_000, integer: true },
  quantumMs: { min: 1, max: 60_000, integer: false },
  maxEventLoopLagMs: { min: 1, max: 60_000, integer: true },
  maxRssMb: { min: 1, max: 16_777_216, integer: true },
  // The tick also measures event-loop lag: a tick of minutes would never see any.
  tickMs: { min: 1, max: 60_000, integer: true },
  'quarantine.strikes': { min: 1, max: 1_000_000, integer: true },
  'quarantine.windowMs': { min: 1, max: DAY_MS, integer: true },
  'quarantine.minKillShare': { min: 0, max: 1, integer: false, share: true },
  'quarantine.baseMs': { min: 1, max: DAY_MS, integer: true },
  'quarantine.maxMs': { min: 1, max: DAY_MS, integer: true },
  'quarantine.forgiveAfterMs': { min: 1, max: DAY_MS, integer: true },
  'quarantine.holdMs': { min: 0, max: 60_000, integer: true },
  'quarantine.maxHeld': { min: 1, max: 1_000_000, integer: true },
};

function checkRanges<T extends object>(values: T, prefix: string): T {
  for (const [key, value] of Object.entries(values)) {
    const name = prefix + key;
    const range = RANGES[name]!;
    if (typeof value !== 'number' || !(value > 0 || (range.min === 0 && value === 0))) throw new ConfigError(`scheduler option ${name} must be a positive number, got ${JSON.stringify(value)}`);
    if (range.share) {
      if (value < range.min || value > range.max) throw new ConfigError(`scheduler option ${name} is a share from ${range.min} to ${range.max}, got ${value}`);
    } else if ((range.integer && !Number.isInteger(value)) || value < range.min || value > range.max) {
      throw new ConfigError(`scheduler option ${name} must be ${range.integer ? 'an integer' : 'a number'} from ${range.min} to ${range.max}, got ${value}`);
    }
  }
  return values;
}
