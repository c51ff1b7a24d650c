// The `cloudflare:workers` module as tenant code imports it. It is not part of the runtime: the
// bundler resolves the import to this file (engine/bundle/tenant-bundle.ts), so it is bundled into
// the tenant's code and runs there, on every tier. What it gives:
// - WorkerEntrypoint: `export default class extends WorkerEntrypoint { fetch(request) {…} }`, a
//   handler as a class; the dispatcher makes one per request or cron run with (ctx, env) and calls
//   the method on it (dispatch/service-worker.ts, tenantHandler).
// - env: the function's env, the same object its handlers are given. Its variables are there from
//   the module's first line where the runtime had them before the code ran; bindings islet makes
//   (service bindings, env.AI) once the module has loaded.
// - DurableObject, WorkflowEntrypoint and RpcTarget, as base classes only, so that code defining
//   them builds and loads; islet has no Durable Objects, Workflows or RPC to bind them to.

// env-key.ts's key, written out: this file is bundled into tenant code, which (sent through the
// admin API) may import nothing. Symbol.for gives the same symbol for the same name in a realm.
const ENV_KEY = Symbol.for('islet.env');

export const env: Record<string, unknown> = ((globalThis as Record<symbol, unknown>)[ENV_KEY] as Record<string, unknown> | undefined) ?? Object.freeze({});

/** What workerd's base classes have: the request's or run's ctx, and env, given when made. */
class Entrypoint<Env> {
  readonly ctx: unknown;
  readonly env: Env;
  constructor(ctx: unknown, env: Env) {
    this.ctx = ctx;
    this.env = env;
  }
}

export class WorkerEntrypoint<Env = unknown> extends Entrypoint<Env> {}
export class DurableObject<Env = unknown> extends Entrypoint<Env> {}
export class WorkflowEntrypoint<Env = unknown> extends Entrypoint<Env> {}
export class RpcTarget {}
