// Workers' service-worker syntax: a script with no exports that registers its handlers with
// `addEventListener('fetch', (event) => event.respondWith(...))` (and 'scheduled'), and reads
// its bindings as globals. Cloudflare recommends modules now, but workerd still runs such
// scripts and much Workers code is written this way. Both runtimes use this module (the isolate's
// and the process tiers'), each with its own Event and DOMException classes.
import { nullProto } from '../webidl/null-prototype.ts';

/** What a handler's `ctx` offers the events: waitUntil. */
interface Context {
  waitUntil(promise: unknown): void;
}

type Callback = ((event: Event) => unknown) | { handleEvent(event: Event): unknown };

interface Listener {
  callback: Callback;
  once: boolean;
}

interface Handler {
  fetch?(request: unknown, env: unknown, ctx: Context): unknown;
  scheduled?(controller: { cron: string; scheduledTime: number }, env: unknown, ctx: Context): unknown;
}

/** Where listeners of the other types go: the global scope's event target (web/global-scope.ts). */
export interface OtherListeners {
  addEventListener(type: string, listener: unknown, options?: unknown): void;
  removeEventListener(type: string, listener: unknown, options?: unknown): void;
}

export interface ServiceWorker {
  addEventListener(type: string, listener: unknown, options?: unknown): void;
  removeEventListener(type: string, listener: unknown, options?: unknown): void;
  FetchEvent: new (...args: never[]) => Event;
  ScheduledEvent: new (...args: never[]) => Event;
  /** The handler the script's listeners make, or undefined when it registered none. */
  handler(): Handler | undefined;
}

/** Without others, listeners of other types (workerd's 'unhandledrejection', say) are taken and never fired. */
export function defineServiceWorker(EventClass: typeof Event, DOMExceptionClass: typeof DOMException, others?: OtherListeners): ServiceWorker {
  const listeners: Record<string, Listener[]> = { fetch: [], scheduled: [] };
  // Events are made here only: a token the constructors check, so tenant code cannot make one
  // whose respondWith answers a request it was never given.
  const token = Symbol('service worker event');

  class FetchEvent extends EventClass {
    readonly #request: unknown;
    readonly #ctx: Context;
    #response: Promise<unknown> | undefined;

    constructor(type: string, request: unknown, ctx: Context, made: symbol) {
      if (made !== token) throw new TypeError('Illegal constructor');
      super(type);
      this.#request = request;
      this.#ctx = ctx;
    }

    get request(): unknown {
      return this.#request;
    }

    /** The response, or a promise of one; once only. */
    respondWith(response: unknown): void {
      if (this.#response !== undefined) throw new DOMExceptionClass('respondWith() was already called for this request', 'InvalidStateError');
      this.#response = Promise.resolve(response);
    }

    waitUntil(promise: unknown): void {
      this.#ctx.waitUntil(promise);
    }

    /** islet has no origin behind a function to fall back to: accepted, as ctx's is. */
    passThroughOnException(): void {}

    static responseOf(event: FetchEvent): Promise<unknown> | undefined {
      return event.#response;
    }

    get [Symbol.toStringTag](): string {
      return 'FetchEvent';
    }
  }

  class ScheduledEvent extends EventClass {
    readonly #ctx: Context;
    readonly cron: string;
    readonly scheduledTime: number;

    constructor(type: string, controller: { cron: string; scheduledTime: number }, ctx: Context, made: symbol) {
      if (made !== token) throw new TypeError('Illegal constructor');
      super(type);
      this.#ctx = ctx;
      this.cron = controller.cron;
      this.scheduledTime = controller.scheduledTime;
    }

    waitUntil(promise: unknown): void {
      this.#ctx.waitUntil(promise);
    }

    /** islet never retries a scheduled run. */
    noRetry(): void {}

    get [Symbol.toStringTag](): string {
      return 'ScheduledEvent';
    }
  }

  /**
   * Runs the listeners in order; one that throws fails the event, as in workerd. A listener that
   * answered (respondWith sets the stop flags, Service Workers §4.5.4) or stopped the event is the
   * last to run: later ones are fallbacks.
   */
  function dispatch(type: string, event: Event, answered: () => boolean): void {
    const list = listeners[type]!;
    for (const listener of [...list]) {
      // One an earlier listener removed does not run (DOM's "removed" flag).
      const at = list.indexOf(listener);
      if (at === -1) continue;
      if (listener.once) list.splice(at, 1);
      const callback = listener.callback;
      if (typeof callback === 'function') callback.call(globalThis, event);
      else callback.handleEvent(event);
      if (answered() || event.cancelBubble) break;
    }
  }

  return {
    addEventListener(type, listener, options) {
      const list = listeners[String(type)];
      if (!list) return others?.addEventListener(type, listener, options);
      // DOM: a null listener is no listener.
      if (listener === null || listener === undefined) return;
      if (typeof listener !== 'function' && (typeof listener !== 'object' || typeof (listener as { handleEvent?: unknown }).handleEvent !== 'function')) {
        throw new TypeError('addEventListener: the listener must be a function or have a handleEvent method');
      }
      if (list.some((l) => l.callback === listener)) return;
      const once = typeof options === 'object' && options !== null && Boolean((options as { once?: unknown }).once);
      list.push({ callback: listener as Callback, once });
    },
    removeEventListener(type, listener, options) {
      const list = listeners[String(type)];
      if (!list) return others?.removeEventListener(type, listener, options);
      const at = list.findIndex((l) => l.callback === listener);
      if (at !== -1) list.splice(at, 1);
    },
    FetchEvent,
    ScheduledEvent,
    handler() {
      if (listeners.fetch!.length === 0 && listeners.scheduled!.length === 0) return undefined;
      return {
        fetch: (request, _env, ctx) => {
          const event = new FetchEvent('fetch', request, ctx, token);
          dispatch('fetch', event, () => FetchEvent.responseOf(event) !== undefined);
          const response = FetchEvent.responseOf(event);
          if (response === undefined) throw new TypeError('no "fetch" listener called event.respondWith() for this request');
          return response;
        },
        scheduled: async (controller, _env, ctx) => {
          dispatch('scheduled', new ScheduledEvent('scheduled', controller, ctx, token), () => false);
        },
      };
    },
  };
}

/**
 * The handler a loaded script serves: its default export, or, with none, the listeners it
 * registered (service-worker syntax, `listening`). Neither is a TypeError saying both ways.
 */
export function tenantHandler<H extends Handler>(exported: unknown, sw: ServiceWorker): { handler: H; listening: boolean } {
  const listening = exported === undefined ? sw.handler() : undefined;
  if (listening) return { handler: listening as H, listening: true };
  if (typeof exported === 'function') {
    // A class, or a constructor whose prototype has the handler's methods. A plain function
    // (`export default (request) => …`, a Pages-style handler) is neither: said at load, where
    // before every request failed with "Entrypoint is not a constructor".
    if (!isEntrypointClass(exported)) {
      throw new TypeError('the module\'s default export is a function; it must be an object with a fetch method (`export default { fetch(request, env, ctx) { ... } }`) or a class with one');
    }
    return { handler: classHandler(exported as EntrypointClass) as H, listening: false };
  }
  const handler = exported as H | null | undefined;
  if (handler === null || typeof handler !== 'object' || (typeof handler.fetch !== 'function' && typeof handler.scheduled !== 'function')) {
    throw new TypeError('the module must `export default { fetch(request, env, ctx) { ... } }` (or a scheduled handler), or call addEventListener("fetch", …)');
  }
  return { handler, listening: false };
}

type EntrypointClass = new (ctx: Context, env: unknown) => object;

const functionText = Function.prototype.toString;

function isEntrypointClass(value: Function): boolean {
  const prototype = (value as { prototype?: Record<string, unknown> }).prototype;
  if (prototype === undefined || prototype === null) return false;
  if (typeof prototype.fetch === 'function' || typeof prototype.scheduled === 'function') return true;
  // Class syntax (its methods may be class fields, made per instance).
  try {
    return /^class\b/.test(Reflect.apply(functionText, value, []) as string);
  } catch {
    return false;
  }
}

/**
 * A default export that is a class (`export default class extends WorkerEntrypoint`, from
 * cloudflare:workers) as a handler: as on workerd, each request or cron run gets an instance made
 * with its ctx and the function's env, and its method is called with the request (or controller)
 * alone.
 */
function classHandler(Entrypoint: EntrypointClass): Handler {
  // Looked up on the instance, not the prototype: `fetch = (request) => …` is a class field, and
  // workerd takes it (a deploy was refused). A class with no such method fails the request, as there.
  const call = (method: 'fetch' | 'scheduled', arg: unknown, env: unknown, ctx: Context): unknown => {
    const instance = new Entrypoint(ctx, env) as Record<string, unknown>;
    const fn = instance[method];
    if (typeof fn !== 'function') throw new TypeError(`the module's default export is a class without a ${method} method`);
    return Reflect.apply(fn, instance, [arg]);
  };
  return {
    fetch: (request, env, ctx) => call('fetch', request, env, ctx),
    scheduled: (controller, env, ctx) => call('scheduled', controller, env, ctx),
  };
}

/**
 * Puts bindings on the global object, where a script in service-worker syntax reads them, from
 * its first line: before the code has run, neither runtime can tell which syntax it is in. Names
 * the global object already has (the Web APIs') stay theirs. Returns the names it put there, for
 * takeBackBindings once the code turns out to be a module, whose bindings are its env argument.
 */
export function exposeBindings(bindings: Record<string, unknown>): string[] {
  const exposed = Object.keys(bindings).filter((name) => !(name in globalThis));
  for (const name of exposed) Object.defineProperty(globalThis, name, nullProto({ value: bindings[name], writable: true, configurable: true, enumerable: true }));
  return exposed;
}

export function takeBackBindings(names: readonly string[]): void {
  for (const name of names) delete (globalThis as Record<string, unknown>)[name];
}
