// Messages between the supervisor and an engine process, over the child's IPC channel (handed
// over connections travel with `conn` messages; proxied requests use the engine's Unix socket).
import type { TenantBundle } from '../bundle/index.ts';
import type { FunctionConfig } from '../engine.ts';
import type { SupervisorInfo } from './cluster-status.ts';
import type { EngineSettings } from './options.ts';

export interface EngineStart {
  t: 'start';
  /** Unix socket the engine serves its gateway on. */
  socketPath: string;
  adminToken?: string;
  /** The config's trustProxy: request URLs take their scheme from X-Forwarded-Proto. */
  trustProxy?: boolean;
  engine?: EngineSettings;
}

/** What happened to the connections handed to an engine since its last report. */
export interface ConnectionReport {
  /** Connections the engine closed: the supervisor closes its descriptor too. */
  closed: number[];
  /** Connections given back idle (after `release`), to go to another engine. */
  released: number[];
  /**
   * Connections where an answer has been going out for a while (a streamed body): should the
   * engine die now, the supervisor must cut them, not write a 502 into the middle of the answer.
   */
  answering?: number[];
  /** Connections whose long answer ended since. */
  answered?: number[];
}

export type ToEngine =
  | EngineStart
  /** Sent with the connection's socket as the handle. */
  | { t: 'conn'; id: number }
  /** Give every connection back as soon as no request is in flight on it. */
  | { t: 'release' }
  /**
   * With connection handoff the engine answers /_islet/status and /_islet/metrics itself, in
   * the supervisor's shape: what only the supervisor knows, sent whenever it changes.
   */
  | { t: 'info'; info: SupervisorInfo }
  /** `boot: false` leaves each isolate to its first request (code that loaded before). */
  | { t: 'deploy'; id: number; functions: [name: string, config: FunctionConfig][]; boot: boolean }
  | { t: 'undeploy'; id: number; name: string }
  | { t: 'drain'; graceMs: number }
  /** Answered with `done` at once: the engine is alive and its event loop turns. */
  | { t: 'ping'; id: number }
  /** Answer to `place` `id`: whether the function is now deployed in this engine. */
  | { t: 'placed'; id: number; ok: boolean };

export type FromEngine =
  | { t: 'up' }
  | ({ t: 'conns' } & ConnectionReport)
  /** A deploy or removal through the engine's admin API succeeded: the supervisor keeps it. */
  | { t: 'deployed'; name: string; config: FunctionConfig }
  | { t: 'removed'; name: string }
  /** An `entry` function of the config loaded from this bundle: later engines get it, not the files. */
  | { t: 'bundled'; name: string; bundle: TenantBundle }
  | { t: 'listening' }
  /** Requests finished and isolates disposed: the SIGKILL that follows is the engine's own exit. */
  | { t: 'drained' }
  /** Answer to deploy/undeploy `id`: per function, the error message if it failed. */
  | { t: 'done'; id: number; errors: Record<string, string> }
  /**
   * A service binding here names a function this engine does not hold: deploy it here too (it is
   * placed beside its caller, as a spill is), answered with `placed`.
   */
  | { t: 'place'; id: number; name: string };
