// What `islet serve` tells its supervisor, and every default of the multi-process layer.
import type { EngineOptions, FunctionConfig } from '../engine.ts';
import type { Logger } from '../observe/index.ts';
import type { ContainerRuntime } from '../tiers/index.ts';

/**
 * The Engine options an engine process starts with. They cross the IPC channel, so only plain
 * data: a setting the config file gives every engine belongs here.
 */
export type EngineSettings = Pick<EngineOptions, 'limits' | 'models' | 'sched' | 'cacheMaxMb'> & {
  /** What makes the container tier's containers (engines build their tiers themselves: tiers do not cross IPC). */
  containerRuntime?: ContainerRuntime;
};

export interface SupervisorOptions {
  port?: number;
  host?: string;
  /** Engine processes (default 1); functions are spread over them by consistent hashing. */
  workers?: number;
  adminToken?: string;
  /** Request URLs take their scheme from X-Forwarded-Proto (a TLS-terminating proxy in front). */
  trustProxy?: boolean;
  /** What each engine is built with (the config's defaults for every function). */
  engine?: EngineSettings;
  /** The config's functions; admin deploys join them. */
  functions?: Record<string, FunctionConfig>;
  /** An engine whose RSS passes this is replaced by a fresh one (default: off). */
  recycleRssMb?: number;
  /** How often engines' RSS is read, in ms. */
  rssCheckMs?: number;
  /** How long requests in flight may take to finish when an engine drains or islet stops. */
  drainGraceMs?: number;
  /** How long a request waits for its engine to be replaced before it is answered 503. */
  restartWaitMs?: number;
  /**
   * Most connections the supervisor opens to each engine in proxy mode (default 1,024, each a
   * file descriptor on both sides). A request past it waits in the supervisor, first come first
   * served, where the engine's fair queue and shedding cannot see it: with 128, one tenant's 128
   * slow requests held every other tenant on that engine waiting for seconds. So it stays well
   * above what an engine admits of one function (concurrency × replicas + maxQueue: 384).
   */
  connectionsPerEngine?: number | null;
  /**
   * Keep one spare engine process booted (no functions), so that replacing a dead or recycled
   * engine skips starting Node and isolated-vm (default true).
   */
  standby?: boolean;
  /**
   * How requests reach the engine: 'handoff' passes each connection to it (one engine only;
   * the default with one), 'proxy' has the supervisor forward each request (the default with
   * several, which need the Host to pick the engine). See README, "Supervisor".
   */
  dataPath?: 'handoff' | 'proxy';
  /**
   * An engine that dies sooner than this after it started serving counts toward a crash loop:
   * from the second in a row, replacements wait 100 ms, doubling up to 5 s.
   */
  quickCrashMs?: number;
  logger?: Logger;
}

export const SUPERVISOR_DEFAULTS = {
  port: 8787,
  host: '127.0.0.1',
  workers: 1,
  recycleRssMb: Infinity,
  rssCheckMs: 1_000,
  drainGraceMs: 10_000,
  restartWaitMs: 10_000,
  connectionsPerEngine: 1_024,
  standby: true,
  quickCrashMs: 1_000,
} as const;
