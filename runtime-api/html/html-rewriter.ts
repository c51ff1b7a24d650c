// Workers' HTMLRewriter: streaming HTML rewriting with CSS selectors. The parser and rewriter are
// Cloudflare's lol-html (the engine behind Workers' own HTMLRewriter) compiled to WebAssembly by
// the npm package html-rewriter-wasm, whose JS glue and module run inside the tenant's isolate:
// the HTML a tenant rewrites never leaves its sandbox. In an isolate this file comes with the glue,
// in a script the host hands over on first use of the global (isolate-html-rewriter.ts); the
// process tiers bundle it into their runtime (engine/tiers/process/sandbox-runtime.ts).
import type { UnderlyingSource } from 'web-streams-polyfill';
import { nullProto, requireArguments, toDictionary, toDOMString } from '../webidl/index.ts';

/** What html-rewriter-wasm's HTMLRewriter offers; one of these runs one transform. */
export interface LolHtmlRewriter {
  on(selector: string, handlers: object): this;
  onDocument(handlers: object): this;
  write(chunk: Uint8Array): Promise<void>;
  end(): Promise<void>;
  free(): void;
}

export interface LolHtml {
  HTMLRewriter: new (sink: (chunk: Uint8Array) => void) => LolHtmlRewriter;
  /** Bytes of the module's memory now (it only grows, up to LOL_HTML_MAX_MB). */
  memoryBytes(): number;
}

export interface HtmlRewriterDeps {
  /** The first instance of the module, loaded (and warmed) on first call. */
  lolHtml(): LolHtml;
  /** Another instance, with its own memory and stack, when the ones there are wait on handlers. */
  moreLolHtml?(): LolHtml;
  Response: typeof globalThis.Response;
  Headers: typeof globalThis.Headers;
  ReadableStream: typeof globalThis.ReadableStream;
  isResponse(value: unknown): value is Response;
  /**
   * The runtime's chain depth (runtime-api/dispatch/chain-depth.ts), handed in: in an isolate
   * this module is a script of its own, with its own copy of every module it imports.
   */
  chainDepth?(): number;
  enterChain?(depth: number): void;
}

/**
 * lol-html buffers a tag, attribute or comment until it is complete, with no bound of its own, and
 * its memory is not the isolate's heap (memoryMb does not see it) and never shrinks. So the host
 * gives its module a maximum memory (engine/bundle/lol-html-glue.ts): past it, the module
 * traps (a page's markup needs kilobytes; text is streamed through).
 */
export const LOL_HTML_MAX_MB = 32;

/** The content handlers of one on() or onDocument(), read when it was called (as workerd does). */
interface Handlers {
  receiver: object;
  element?: Function;
  comments?: Function;
  text?: Function;
  doctype?: Function;
  end?: Function;
}

type Registration = [selector: string | null, handlers: Handlers];

const HANDLER_NAMES = ['element', 'comments', 'text', 'doctype', 'end'] as const;

export function defineHTMLRewriter(deps: HtmlRewriterDeps) {
  const { Response, Headers, ReadableStream } = deps;
  // html-rewriter-wasm suspends a rewriter inside the module while an async handler waits
  // (Asyncify), and an instance of the module has one stack: two rewriters suspended in one
  // instance at once overwrite each other's frames (a probe's concurrent transforms with async
  // text handlers corrupted it within a few rounds). So an instance takes one write or end at a
  // time, each holding it until it settles, handlers included; a rewriter is made at its first
  // call in an instance with nothing in flight, and a new instance (up to MAX_INSTANCES, sharing
  // the compiled module) when every one is busy. One instance served 30 concurrent requests with
  // async handlers in 13 s where one took 0.47 s, and a transform awaited inside another's
  // handler waited for ever. A trap leaves an instance's state (its allocator, the rewriter it
  // was in) as it was: it takes no more transforms, and its memory goes with its last rewriter.
  const pool: Instance[] = [];
  let made = 0;
  let trapped: string | undefined;
  const instance = (): Instance => {
    let best: Instance | undefined;
    for (const candidate of pool) {
      if (candidate.suspended === 0 && candidate.inFlight === 0) return candidate;
      if (best === undefined || candidate.suspended + candidate.inFlight < best.suspended + best.inFlight) best = candidate;
    }
    if (made < MAX_INSTANCES && (made === 0 || deps.moreLolHtml)) {
      const lol = made === 0 ? deps.lolHtml() : deps.moreLolHtml!();
      made++;
      const fresh: Instance = { lol, turn: Promise.resolve(), suspended: 0, inFlight: 0 };
      pool.push(fresh);
      return fresh;
    }
    if (best !== undefined) return best;
    throw new TypeError(`HTMLRewriter is unavailable in this isolate: ${trapped ?? 'lol-html could not be loaded'}`);
  };
  const exclusive = <T>(at: Instance, work: () => Promise<T>): Promise<T> => {
    at.inFlight++;
    // The work runs when the step before it ends, in whatever call into the isolate ends it: it is
    // still the work of the request that queued it (dispatch/chain-depth.ts).
    const depth = deps.chainDepth?.();
    const run = at.turn.then(() => {
      if (depth !== undefined) deps.enterChain!(depth);
      return work();
    });
    at.turn = run.then(noop, noop);
    void at.turn.then(() => at.inFlight--);
    return run;
  };

  class HTMLRewriter {
    #registrations: Registration[] = [];

    /** Registers `handlers` for elements matching `selector`; a selector lol-html cannot parse throws here, as in Workers. */
    on(selector: unknown, handlers: unknown): this {
      const where = "Failed to execute 'on' on 'HTMLRewriter'";
      requireArguments(arguments.length, 2, where);
      const text = toDOMString(selector);
      const read = readHandlers(handlers, where);
      // A synchronous call: safe in an instance where another rewriter waits.
      checkSelector(instance().lol, text);
      this.#registrations.push([text, read]);
      return this;
    }

    onDocument(handlers: unknown): this {
      const where = "Failed to execute 'onDocument' on 'HTMLRewriter'";
      requireArguments(arguments.length, 1, where);
      this.#registrations.push([null, readHandlers(handlers, where)]);
      return this;
    }

    /**
     * A Response like `response` (status, status text, headers less Content-Length, which the
     * rewriting changes) whose body is `response`'s, rewritten as it streams through. The handlers
     * registered now are the ones that run.
     */
    transform(response: unknown): Response {
      const where = "Failed to execute 'transform' on 'HTMLRewriter'";
      requireArguments(arguments.length, 1, where);
      if (!deps.isResponse(response)) throw new TypeError(`${where}: parameter 1 is not of type 'Response'`);
      const init = { status: response.status, statusText: response.statusText, headers: new Headers(response.headers) };
      init.headers.delete('content-length');
      if (response.body === null) return new Response(null, init);
      if (response.bodyUsed) throw new TypeError(`${where}: the response body has already been used`);
      return new Response(rewrite([...this.#registrations], response.body), init);
    }

    get [Symbol.toStringTag]() {
      return 'HTMLRewriter';
    }
  }

  function rewrite(registrations: Registration[], body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    // The handlers work for the request that made the transform, whichever call into the isolate
    // the module resumes them in (dispatch/chain-depth.ts): one waiting on another rewriter's
    // handler in the same instance resumes in that one's delivery.
    const depth = deps.chainDepth?.();
    let output: ReadableStreamDefaultController<Uint8Array> | undefined;
    let produced = false;
    // The first exception of a handler (thrown, or its promise rejected). It never reaches the
    // module: an exception unwinding through it leaves its stack pointer behind (~32 bytes each;
    // a probe broke an isolate's lol-html after 32,701 throws, 642 rejections), and a rejection
    // leaves the rewriter suspended for good. Once there is one, no more handlers run, and the
    // rewritten body fails with it when the module's call returns.
    let failed: { error: unknown } | undefined;
    const call = (fn: Function, receiver: object, content: unknown): unknown => {
      if (failed || cancelled) return undefined;
      let result: unknown;
      if (depth !== undefined) deps.enterChain!(depth);
      try {
        result = Reflect.apply(fn, receiver, [content]);
      } catch (error) {
        failed = { error };
        return undefined;
      }
      // A promise, or any thenable, is waited for (workerd takes promise-likes too); the module
      // gets a promise that only fulfils.
      let then: unknown;
      try {
        then = result !== null && (typeof result === 'object' || typeof result === 'function') ? (result as { then?: unknown }).then : undefined;
      } catch (error) {
        failed = { error };
        return undefined;
      }
      if (typeof then !== 'function') return undefined;
      // The module waits on this one, which cancel() may also settle (below); meanwhile this
      // instance's stack is held, and other rewriters are started in another.
      const held = at!;
      held.suspended++;
      return new Promise<void>((resolve) => {
        let settled = false;
        const settle = () => {
          if (settled) return;
          settled = true;
          held.suspended--;
          if (release === settle) release = undefined;
          resolve();
        };
        release = settle;
        try {
          Reflect.apply(then, result, [settle, (error: unknown) => {
            failed ??= { error };
            settle();
          }]);
        } catch (error) {
          failed ??= { error };
          settle();
        }
      });
    };
    const forModule = ({ receiver, ...fns }: Handlers): object => {
      const wrapped: Record<string, (content: unknown) => unknown> = {};
      for (const name of HANDLER_NAMES) {
        const fn = fns[name];
        if (fn) wrapped[name] = (content) => call(fn, receiver, content);
      }
      return wrapped;
    };
    let cancelled = false;
    // Made at its first call, in an instance with no rewriter waiting (instance()).
    let at: Instance | undefined;
    let rewriter: LolHtmlRewriter | undefined;
    const start = (): LolHtmlRewriter => {
      at = instance();
      // Called from inside the module, so it must not throw (see `failed`): a body cancelled
      // while a handler waited has no one to enqueue to when the module resumes.
      const made = new at.lol.HTMLRewriter((chunk) => {
        produced = true;
        if (cancelled) return;
        try {
          output!.enqueue(chunk);
        } catch {}
      });
      for (const [selector, handlers] of registrations) {
        if (selector === null) made.onDocument(forModule(handlers));
        else made.on(selector, forModule(handlers));
      }
      return made;
    };
    let busy = false;
    let freed = false;
    /** Lets the module go on past the handler it waits for (cancel()). */
    let release: (() => void) | undefined;
    const free = () => {
      if (freed || busy) return;
      freed = true;
      try {
        rewriter?.free();
      } catch {
        // Refused only if the module is in a call on this rewriter: it stays with the module.
      }
    };
    // One call into the module, with the module to itself; a handler's exception fails it.
    const step = (work: (rewriter: LolHtmlRewriter) => Promise<void>): Promise<void> => {
      rewriter ??= start();
      const made = rewriter;
      return exclusive(at!, async () => {
        if (freed || cancelled) throw new TypeError('HTMLRewriter: the rewritten body was cancelled');
        busy = true;
        try {
          await work(made);
        } catch (err) {
          throw trap(err);
        } finally {
          busy = false;
        }
        if (cancelled) throw new TypeError('HTMLRewriter: the rewritten body was cancelled');
        if (failed) throw failed.error;
      });
    };
    // A trap is a fault in the module, not in the document or a handler (those are caught before):
    // its memory used up, or its state broken (a tenant can free an element lol-html still uses).
    const trap = (err: unknown): unknown => {
      if (!(err instanceof Error && err.name === 'RuntimeError')) return err;
      // Its allocator asks for room by doubling: one that failed had used over half of it.
      const full = at!.lol.memoryBytes() > (LOL_HTML_MAX_MB * 1048576) / 2;
      const index = pool.indexOf(at!);
      if (index >= 0) pool.splice(index, 1);
      at!.trapped = true;
      trapped = full
        ? `earlier documents needed more than lol-html's ${LOL_HTML_MAX_MB} MB`
        : `lol-html failed on an earlier document (${err.message})`;
      return full
        ? new TypeError(`HTMLRewriter: the document needed more than lol-html's ${LOL_HTML_MAX_MB} MB (a tag, attribute or comment that does not end?)`)
        : new TypeError(`HTMLRewriter: lol-html failed (${err.message})`);
    };
    const reader = body.getReader();
    return new ReadableStream<Uint8Array>(nullProto<UnderlyingSource<Uint8Array>>({
      start(controller) {
        output = controller;
      },
      // Reads and rewrites until something comes out (or the input ends), so that a consumer
      // pulling one chunk at a time is not handed empty turns.
      async pull(controller) {
        try {
          produced = false;
          while (!produced) {
            const { done, value } = await reader.read();
            if (done) {
              await step((made) => made.end());
              free();
              controller.close();
              return;
            }
            if (!(value instanceof Uint8Array)) throw new TypeError('HTMLRewriter: the response body produced a chunk that is not a Uint8Array');
            await step((made) => made.write(value));
          }
        } catch (err) {
          if (!at?.trapped) free();
          reader.cancel(err).catch(noop);
          throw err;
        }
      },
      // A rewriter suspended in the module (an async handler waiting: perhaps forever, as when
      // its request ran out of wall clock) is let go on at once, with no more handlers run and its
      // output dropped: its call ends, the isolate's other transforms have the module, and the
      // rewriter is freed (pull's catch). Freeing it while suspended traps; leaving it suspended
      // kept its part of the module's stack for good (a probe's client broke it in 642 cancels).
      cancel(reason) {
        cancelled = true;
        if (busy) release?.();
        else free();
        return reader.cancel(reason);
      },
    }));
  }

  return { HTMLRewriter };
}

function noop(): void {}

/** Instances of the module one isolate may make (each up to LOL_HTML_MAX_MB): traps count too. */
const MAX_INSTANCES = 4;

interface Instance {
  lol: LolHtml;
  /** The instance's calls, one after another. */
  turn: Promise<unknown>;
  /** Its rewriters waiting on a handler (suspended in it, holding its stack). */
  suspended: number;
  /** Calls queued or running in it: a rewriter's first call goes to an instance with none. */
  inFlight: number;
  trapped?: boolean;
}

/** Throws lol-html's TypeError for a selector it cannot parse ("Unsupported pseudo-class…"). */
function checkSelector(lol: LolHtml, selector: string): void {
  const probe = new lol.HTMLRewriter(() => {});
  try {
    probe.on(selector, {});
  } finally {
    probe.free();
  }
}

/**
 * Reads a handlers dictionary once, when it is registered, as workerd does: each member present
 * must be callable, and is later called as a method of the object given.
 */
function readHandlers(value: unknown, where: string): Handlers {
  const dict = toDictionary(value, where);
  if (dict === undefined) throw new TypeError(`${where}: the handlers argument is not an object`);
  const handlers: Handlers = { receiver: dict };
  for (const name of HANDLER_NAMES) {
    const fn = dict[name];
    if (fn === undefined) continue;
    if (typeof fn !== 'function') throw new TypeError(`${where}: the '${name}' handler is not a function`);
    handlers[name] = fn;
  }
  return handlers;
}
