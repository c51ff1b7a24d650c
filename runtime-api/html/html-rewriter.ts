// Workers' HTMLRewriter: streaming HTML rewriting with CSS selectors. The parser and rewriter are
// Cloudflare's lol-html (the engine behind Workers' own HTMLRewriter) compiled to WebAssembly by
// the npm package html-rewriter-wasm, whose JS glue and module run inside the tenant's isolate:
// the HTML a tenant rewrites never leaves its sandbox.
// Evaluated on first use of the global (runtime-api/index.ts): the glue compiles the ~0.9 MB
// module then (~8 ms, charged to the tenant like any of its work).
import { requireArguments, toDictionary, toDOMString } from '../webidl/index.ts';

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
}

export interface HtmlRewriterDeps {
  lolHtml(): LolHtml;
  Response: typeof globalThis.Response;
  Headers: typeof globalThis.Headers;
  ReadableStream: typeof globalThis.ReadableStream;
  isResponse(value: unknown): value is Response;
}

/**
 * lol-html buffers a tag, attribute or comment until it is complete, with no bound of its own, and
 * its memory is not the isolate's heap (memoryMb does not see it) and never shrinks. So the host
 * gives its module a maximum memory (engine/bundle/lol-html-glue.ts): past it, the module
 * traps (a page's markup needs kilobytes; text is streamed through).
 */
export const LOL_HTML_MAX_MB = 64;

type Registration = [selector: string | null, handlers: object];

export function defineHTMLRewriter(deps: HtmlRewriterDeps) {
  const { Response, Headers, ReadableStream } = deps;
  // A trap leaves the module's state (its allocator, the rewriter it was in) as it was at that
  // instant: nothing more runs in this instance, and the isolate's next HTMLRewriter fails clearly.
  let trapped = false;
  const lolHtml = (): LolHtml => {
    if (trapped) throw new TypeError(`HTMLRewriter is unavailable in this isolate: an earlier document used up lol-html's ${LOL_HTML_MAX_MB} MB`);
    return deps.lolHtml();
  };

  class HTMLRewriter {
    #registrations: Registration[] = [];

    /** Registers `handlers` for elements matching `selector`; a selector lol-html cannot parse throws here, as in Workers. */
    on(selector: unknown, handlers: unknown): this {
      const where = "Failed to execute 'on' on 'HTMLRewriter'";
      requireArguments(arguments.length, 2, where);
      const text = toDOMString(selector);
      const checked = handlersOf(handlers, where);
      checkSelector(lolHtml(), text);
      this.#registrations.push([text, checked]);
      return this;
    }

    onDocument(handlers: unknown): this {
      requireArguments(arguments.length, 1, "Failed to execute 'onDocument' on 'HTMLRewriter'");
      this.#registrations.push([null, handlersOf(handlers, "Failed to execute 'onDocument' on 'HTMLRewriter'")]);
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
      return new Response(rewrite(lolHtml(), this.#registrations, response.body), init);
    }

    get [Symbol.toStringTag]() {
      return 'HTMLRewriter';
    }
  }

  function rewrite(lol: LolHtml, registrations: Registration[], body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    let output: ReadableStreamDefaultController<Uint8Array> | undefined;
    let produced = false;
    const rewriter = new lol.HTMLRewriter((chunk) => {
      produced = true;
      output!.enqueue(chunk);
    });
    let freed = false;
    const free = () => {
      if (freed) return;
      freed = true;
      try {
        rewriter.free();
      } catch {
        // A call that failed inside the module (a handler's exception) leaves the rewriter
        // borrowed, and wasm-bindgen refuses to free it: it stays with the module's memory.
      }
    };
    try {
      for (const [selector, handlers] of registrations) {
        if (selector === null) rewriter.onDocument(handlers);
        else rewriter.on(selector, handlers);
      }
    } catch (err) {
      free();
      throw err;
    }
    const reader = body.getReader();
    return new ReadableStream<Uint8Array>({
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
              await rewriter.end();
              free();
              controller.close();
              return;
            }
            if (!(value instanceof Uint8Array)) throw new TypeError('HTMLRewriter: the response body produced a chunk that is not a Uint8Array');
            await rewriter.write(value);
          }
        } catch (err) {
          let failure = err;
          if (err instanceof Error && err.name === 'RuntimeError') {
            trapped = true;
            failure = new TypeError(`HTMLRewriter: the document needed more than lol-html's ${LOL_HTML_MAX_MB} MB (a tag, attribute or comment that does not end?)`);
          } else {
            free();
          }
          reader.cancel(failure).catch(() => {});
          throw failure;
        }
      },
      cancel(reason) {
        free();
        return reader.cancel(reason);
      },
    });
  }

  return { HTMLRewriter };
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

// Handlers are read by lol-html's glue when content matches (element, comments, text, doctype,
// end), each called as a method of the object given, as Workers does.
function handlersOf(value: unknown, where: string): object {
  const handlers = toDictionary(value, where);
  if (handlers === undefined) throw new TypeError(`${where}: the handlers argument is not an object`);
  return handlers as object;
}
