// Types for tenant authors: `import type { ExportedHandler } from 'islet/types'`. Request,
// Response and the other Web APIs come from TypeScript's own lib ("webworker" or "dom").

/** The `ctx` argument of a fetch handler. */
export interface ExecutionContext {
  /** Keep working on `promise` after the response is sent (until the wall-clock limit). */
  waitUntil(promise: Promise<unknown>): void;
  /** Accepted for Workers compatibility; islet has no origin to pass to, so errors answer 500. */
  passThroughOnException(): void;
}

/** The `controller` argument of a scheduled handler. */
export interface ScheduledController {
  readonly cron: string;
  /** When the run was due, in ms since the epoch. */
  readonly scheduledTime: number;
  noRetry(): void;
}

/** What a function's module exports by default: a fetch handler, a scheduled handler, or both. */
export interface ExportedHandler<Env = Record<string, unknown>> {
  fetch?(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
  scheduled?(controller: ScheduledController, env: Env, ctx: ExecutionContext): void | Promise<void>;
}
