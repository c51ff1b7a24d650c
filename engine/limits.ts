// Every limit islet enforces, with its default, in one place. Units are in the names.
import { ConfigError } from './errors.ts';

export interface Limits {
  /** CPU time one request may use inside its sandbox, including work after an `await`. */
  cpuMs: number;
  /** V8 heap (plus large ArrayBuffers) one isolate may hold. */
  memoryMb: number;
  /** Wall-clock time from dispatch to response (and to the end of `ctx.waitUntil` work). */
  wallMs: number;
  /** Largest request body the gateway accepts. */
  maxBodyBytes: number;
  /** CPU time the tenant module's top level may use when it is loaded. */
  startupCpuMs: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  cpuMs: 50,
  memoryMb: 128,
  wallMs: 30_000,
  maxBodyBytes: 100 * 1024 * 1024,
  startupCpuMs: 1_000,
});

// Bounds that keep a typo in a config from turning into a host problem (isolated-vm refuses
// memory limits under 8 MB; a multi-hour request is never what anyone meant).
const BOUNDS: Record<keyof Limits, [min: number, max: number]> = {
  cpuMs: [1, 60_000],
  memoryMb: [8, 16_384],
  wallMs: [1, 15 * 60_000],
  maxBodyBytes: [0, 2 ** 31 - 1],
  startupCpuMs: [1, 60_000],
};

/** How often the limit watchdog samples isolates' CPU time while they have work in flight. */
export const WATCHDOG_INTERVAL_MS = 5;

/**
 * Most live isolates one engine process keeps. V8 aborts the whole process (not catchable) when
 * an isolate cannot get heap memory, long before RAM runs out: measured here, ~4,065 hello
 * isolates or ~2,100 Hono-app isolates (the limit follows the isolates' total heap reservation,
 * not their count). 1,500 leaves room for heavier tenants; residency also watches the
 * process's memory mappings (MAP_BUDGET_SHARE) and RSS. Past the cap, the least recently used idle
 * isolate is evicted instead of booting one more.
 */
export const MAX_LIVE_ISOLATES = 1_500;
export const MAPPINGS_PER_ISOLATE = 20;
/** Share of vm.max_map_count the process may use before idle isolates are evicted. */
export const MAP_BUDGET_SHARE = 0.75;

/**
 * How long `islet serve --in-process` waits after disposing its isolates before it exits.
 * isolated-vm finishes tearing isolates down on its own threads; a process that exited at once
 * after an isolate's memory-limit kill crashed (SIGSEGV) in 10 of 10 runs here, and in none of 10
 * with this wait (`npm run soak:shutdown`). Engines under the supervisor skip Node's teardown
 * instead (engine/supervisor/engine-worker.ts), because the wait alone still failed 4 of 40.
 */
export const ISOLATE_TEARDOWN_SETTLE_MS = 200;

/** Most timers one isolate may have pending; beyond it setTimeout throws instead of growing host state. */
export const MAX_TIMERS_PER_ISOLATE = 10_000;

export function resolveLimits(overrides: unknown = {}, base: Readonly<Limits> = DEFAULT_LIMITS): Limits {
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new ConfigError('limits must be an object like {"cpuMs": 50, "memoryMb": 128}');
  }
  const limits: Limits = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in BOUNDS)) {
      throw new ConfigError(`unknown limit "${key}" (known: ${Object.keys(BOUNDS).join(', ')})`);
    }
    const [min, max] = BOUNDS[key as keyof Limits];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`limit ${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    limits[key as keyof Limits] = value;
  }
  return limits;
}
