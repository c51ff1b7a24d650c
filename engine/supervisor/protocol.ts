// Messages between the supervisor and an engine process, over the child's IPC channel. HTTP
// traffic does not use it: requests go to the engine's Unix socket.
import type { FunctionConfig } from '../engine.ts';
import type { Limits } from '../limits.ts';

export interface EngineStart {
  t: 'start';
  /** Unix socket the engine serves its gateway on. */
  socketPath: string;
  adminToken?: string;
  limits?: Partial<Limits>;
  /** Engine options that only benches and tests change. */
  maxLive?: number;
}

export type ToEngine =
  | EngineStart
  /** `boot: false` leaves each isolate to its first request (code that loaded before). */
  | { t: 'deploy'; id: number; functions: [name: string, config: FunctionConfig][]; boot: boolean }
  | { t: 'undeploy'; id: number; name: string }
  | { t: 'drain'; graceMs: number };

export type FromEngine =
  | { t: 'up' }
  | { t: 'listening' }
  /** Requests finished and isolates disposed: the SIGKILL that follows is the engine's own exit. */
  | { t: 'drained' }
  /** Answer to deploy/undeploy `id`: per function, the error message if it failed. */
  | { t: 'done'; id: number; errors: Record<string, string> };
