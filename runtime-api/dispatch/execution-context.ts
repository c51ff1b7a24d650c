// The `ctx` argument of a fetch handler.
import { host } from '../host/host-calls.ts';
import { reportError } from '../host/timers.ts';

const waitUntils = new WeakMap<ExecutionContext, Promise<unknown>[]>();

export class ExecutionContext {
  /** Workers' ctx.props: what a service binding's caller passes; islet's bindings pass none. */
  readonly props: Record<string, unknown> = {};

  constructor() {
    waitUntils.set(this, []);
  }

  /** Keeps the request's sandbox working on `promise` after the response is sent. */
  waitUntil(promise: unknown): void {
    waitUntils.get(this)!.push(Promise.resolve(promise));
  }

  /**
   * Workers uses this to forward a failed request to the origin. islet has no origin behind a
   * function, so an exception always answers 500; the call is accepted so Workers code runs.
   */
  passThroughOnException(): void {}

  get [Symbol.toStringTag]() {
    return 'ExecutionContext';
  }
}

/**
 * After the response: whether waitUntil work is still pending. If so, the host is told through
 * `taskDone(id)` once all of it has settled; rejections are logged like uncaught errors.
 */
export function settleWaitUntil(ctx: ExecutionContext, id: number): boolean {
  const pending = waitUntils.get(ctx)!;
  if (pending.length === 0) return false;
  Promise.allSettled(pending).then((results) => {
    for (const r of results) if (r.status === 'rejected') reportError(r.reason);
    host().taskDone(id);
  });
  return true;
}

/**
 * Resolves when all of `ctx`'s waitUntil work has settled, logging rejections; with the first
 * rejection's reason, if one rejected (a scheduled run's outcome is then an exception, as workerd's).
 */
export async function waitUntilSettled(ctx: ExecutionContext): Promise<{ reason: unknown } | undefined> {
  const results = await Promise.allSettled(waitUntils.get(ctx)!);
  let failed: { reason: unknown } | undefined;
  for (const r of results) {
    if (r.status !== 'rejected') continue;
    reportError(r.reason);
    failed ??= { reason: r.reason };
  }
  return failed;
}
