// Every limit islet enforces, with its default, in one place. Units are in the names.
import { availableParallelism } from 'node:os';
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
  /** fetch() calls one request may make (including its waitUntil work), as in Workers. */
  maxSubrequests: number;
  /** Requests one isolate serves at once (async handlers interleave); past it, another replica boots. */
  concurrency: number;
  /** Most isolates (replicas) the function may have at once, each on its own thread. */
  maxReplicas: number;
  /** Requests that may wait for a free replica; past it, new ones are refused (503 overloaded). */
  maxQueue: number;
  /** Bytes of responses the function's Cache API (caches.default, caches.open) keeps, in MB. */
  cacheMb: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  cpuMs: 50,
  memoryMb: 128,
  wallMs: 30_000,
  maxBodyBytes: 100 * 1024 * 1024,
  startupCpuMs: 1_000,
  maxSubrequests: 50,
  concurrency: 64,
  // One per core: isolated-vm runs each isolate on its own thread, so a CPU-bound function's
  // replicas use every core, and more than that would only add memory.
  maxReplicas: availableParallelism(),
  maxQueue: 256,
  cacheMb: 32,
});

// Bounds that keep a typo in a config from turning into a host problem (isolated-vm refuses
// memory limits under 8 MB; a multi-hour request is never what anyone meant).
const BOUNDS: Record<keyof Limits, [min: number, max: number]> = {
  cpuMs: [1, 60_000],
  memoryMb: [8, 16_384],
  wallMs: [1, 15 * 60_000],
  maxBodyBytes: [0, 2 ** 31 - 1],
  startupCpuMs: [1, 60_000],
  maxSubrequests: [0, 10_000],
  concurrency: [1, 10_000],
  maxReplicas: [1, 256],
  maxQueue: [0, 100_000],
  cacheMb: [0, 16_384],
};

/** All functions' Cache API storage together, in one engine process, by default (EngineOptions.cacheMaxMb). */
export const DEFAULT_CACHE_MAX_MB = 512;
const MAX_CACHE_MAX_MB = 1_048_576;

/** `value` as a cacheMaxMb (the Engine option, the config file's field), or a ConfigError saying why not. */
export function checkCacheMaxMb(value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= MAX_CACHE_MAX_MB)) {
    throw new ConfigError(`"cacheMaxMb" must be a number of MB from 0 to ${MAX_CACHE_MAX_MB}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Request bodies declared (Content-Length) up to this size are read whole before dispatch: one
 * copy into the isolate, in the same batch as the request. Bigger and chunked bodies stream.
 */
export const MAX_BUFFERED_BODY_BYTES = 1024 * 1024;

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
 * An isolate whose function has had no request for this long gets one memory-reducing garbage
 * collection (and another only after its next request). A hello isolate that has served a few
 * hundred requests holds 4.4 MB idle, 2.7 MB after it (README, density); the collection takes
 * ~25 ms of a pool thread's CPU, charged to no tenant.
 */
export const IDLE_GC_AFTER_MS = 60_000;
/**
 * Most idle collections one residency sweep (one a second) starts: they run on the threads that
 * serve requests, so a crowd going idle together is spread out (≤ ~50 ms of CPU a second).
 */
export const IDLE_GCS_PER_SWEEP = 2;
/**
 * CPU after an idle collection that no request is charged for: the collection shrinks the young
 * generation and flushes bytecode, and the next requests pay to grow and compile them again (a
 * handler allocating 2,000 objects: 1.2 and 2.4 ms, up to 6, against 0.7 warm; with 6 isolates on
 * 2 cores, where clocks read ahead, 10 ms still let some die at cpuMs 5). Granted by the host
 * once per collection, so a tenant gets at most this much for each idle spell.
 */
export const IDLE_GC_ALLOWANCE_NS = 20e6;

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

/**
 * Memory a process-based sandbox (process, container) may hold beyond its heap limit (memoryMb):
 * Node's own RSS (~45 MB idle here) plus room for buffers. The cgroup (or, without cgroups, the
 * RSS watchdog) enforces memoryMb + this; V8's --max-old-space-size enforces memoryMb.
 */
export const SANDBOX_PROCESS_OVERHEAD_MB = 64;
/** Processes and threads one such sandbox may have (Node runs ~11 threads; gVisor needs >= 256). */
export const SANDBOX_PIDS_MAX = 256;
/** CPUs one such sandbox may use at once, through its cgroup's CPU quota. */
export const SANDBOX_CPUS = 1;
/** Console lines a process-based sandbox may log at once, then per second (as the isolate runtime's console). */
export const CONSOLE_BURST_LINES = 200;
export const CONSOLE_LINES_PER_SECOND = 100;
/** Characters of one console line the host writes; the rest is cut (a stack with it). */
export const CONSOLE_LINE_CHARS = 16 * 1024;
/** How long a process-based sandbox may take to start and load its module. */
export const SANDBOX_START_TIMEOUT_MS = 15_000;
/** The same for a microVM: booting a kernel and Node under TCG takes ~3–6 s alone, far more on a busy host. */
export const VM_SANDBOX_START_TIMEOUT_MS = 60_000;

/** A subrequest's longest time: no request may wait longer (wallMs's bound). */
export const MAX_EGRESS_TIMEOUT_MS = BOUNDS.wallMs[1];

export function resolveLimits(overrides: unknown = {}, base: Readonly<Limits> = DEFAULT_LIMITS): Limits {
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new ConfigError('limits must be an object like {"cpuMs": 50, "memoryMb": 128}');
  }
  const limits: Limits = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (!Object.hasOwn(BOUNDS, key)) {
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

/** Subrequests one sandbox may have pending at once (the isolate runtime counts them too). */
export const MAX_PENDING_SUBREQUESTS = 256;

/** Web Crypto work an isolate may have running on the host at once. */
export const MAX_CRYPTO_OPS_PER_ISOLATE = 32;
/** PBKDF2 iterations one deriveBits may ask for (workerd's cap too): the host's threads are shared. */
export const MAX_PBKDF2_ITERATIONS = 100_000;
/** Bits one PBKDF2 deriveBits may ask for: its work is iterations × hash-sized blocks (4 of SHA-512's). */
export const MAX_PBKDF2_BITS = 2_048;
/** Largest RSA key generated or used: a 16,384-bit keygen would hold a host thread for minutes. */
export const MAX_RSA_MODULUS_BITS = 4_096;

/** Defaults of the accelerator pool (engine/accel/) and of a function's AI binding. */
export const ACCEL_DEFAULTS = Object.freeze({
  /** Most calls one model runs as one batch. */
  maxBatch: 32,
  /**
   * How long a model's oldest queued call waits for others while a worker is free, in µs. At 0 a
   * batch goes as soon as a worker is free, with every call queued by then: under load calls
   * gather while the workers are busy, so batches fill by themselves, and a lone call waits for
   * nothing (measured: 1 ms here cost a single caller about 6× its latency and did not help at 64).
   */
  maxWaitUs: 0,
  /** Most calls queued for one model; past it calls fail at once as overloaded. */
  maxQueued: 1_024,
  /** Most calls one function may have queued or running at once (its quota). */
  maxPending: 64,
  /** How long one call may take, queue included (also never past the function's wallMs). */
  timeoutMs: 10_000,
  /**
   * Largest input one call may send, all tensors together. A string counts its UTF-16 bytes plus
   * STRING_OVERHEAD_BYTES, so a million empty strings weigh what crossing them costs.
   */
  maxInputBytes: 16 * 1024 * 1024,
  /**
   * Most strings one call may send, all inputs together: they cross the boundary and are checked
   * one by one on the engine's event loop (half a million took it ~100 ms), where bytes cross in
   * one copy.
   */
  maxStrings: 65_536,
  /**
   * Largest output a built-in model makes for one call, and most multiply-adds one top-k call may
   * ask for (~0.3 s of a worker): outputs are computed in the host's memory, not the tenant's,
   * and one worker serves every tenant, so a call past either fails alone before it runs.
   */
  maxOutputBytes: 16 * 1024 * 1024,
  maxWorkPerCall: 2 ** 27,
  /**
   * Most bytes one batch carries, all its calls together: inputs (counted as maxInputBytes counts)
   * and the outputs their rows will make, where the signature gives their size (pool.ts);
   * a call bigger than that runs in a batch of its own. A batch's run takes about as long as its
   * inputs are big, and every call in it waits for all of it: with count alone, one tenant's 31
   * calls of 16 MB strings made a batch of ~15 s, and another tenant's 5-character call in it
   * timed out.
   */
  maxBatchBytes: 4 * 1024 * 1024,
});

/** What one string in an env.AI input counts for besides its characters (see maxInputBytes). */
export const STRING_OVERHEAD_BYTES = 32;

/**
 * Worker threads in the accelerator pool: half the cores (at least one, at most eight), leaving
 * the rest to the event loop and the isolates' threads. Each worker runs one batch at a time.
 */
export function accelWorkers(cores: number): number {
  return Math.max(1, Math.min(8, Math.floor(cores / 2)));
}
