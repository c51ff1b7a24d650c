// One function's live log stream (GET /_islet/functions/:name/logs) when it runs on several
// engines: its home, and any engine it spilled to. Each engine only sees the requests it served,
// so the supervisor follows the function on every engine that holds it and interleaves whole
// lines into one NDJSON stream. An engine that spills the function later is followed before any
// request is routed there (Supervisor.beforePlacement); one that is replaced (crash, recycle) is
// followed again on its successor. The client's stream ends when it leaves or nothing is left to
// follow.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { Dispatcher } from 'undici';
import { errorAnswer, SandboxUnavailableError } from '../errors.ts';
import type { EngineProcess } from './engine-process.ts';

export interface TailPlacements {
  /** The slots that hold the function now, its home first. */
  placements(name: string): number[];
  engineOf(slot: number): Promise<EngineProcess>;
  /** Calls `hook` before the function is placed on another slot; returns the unsubscribe. */
  beforePlacement(hook: (name: string, slot: number) => Promise<void>): () => void;
}

interface Upstream {
  slot: number;
  controller?: Dispatcher.DispatchController;
  /** UTF-8 as it arrives: a character may be split between two chunks. */
  decoder: StringDecoder;
  /** The end of the last chunk, up to its first newline: a line still arriving. */
  partial: string;
}

/** An engine's answer other than a stream (a wrong token, no such function), sent on as it is. */
interface Refusal {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class MergedTail {
  readonly #sup: TailPlacements;
  readonly #name: string;
  readonly #path: string;
  readonly #headers: string[];
  readonly #res: ServerResponse;
  readonly #upstreams = new Map<number, Upstream>();
  readonly #unhook: () => void;
  #open = true;

  private constructor(sup: TailPlacements, name: string, req: IncomingMessage, res: ServerResponse) {
    this.#sup = sup;
    this.#name = name;
    this.#path = req.url!;
    const auth = req.headers.authorization;
    this.#headers = auth ? ['authorization', auth] : [];
    this.#res = res;
    this.#unhook = sup.beforePlacement(async (fn, slot) => {
      if (fn === this.#name && this.#open && !this.#upstreams.has(slot)) await this.#follow(slot);
    });
    res.once('close', () => this.#close());
    res.on('drain', () => {
      for (const up of this.#upstreams.values()) up.controller?.resume();
    });
  }

  /**
   * Starts following: the home engine answers first, so a refusal (a wrong token, no such
   * function) is sent as it is; once it streams, every other engine holding the function joins.
   */
  static async start(sup: TailPlacements, name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const tail = new MergedTail(sup, name, req, res);
    const [home, ...others] = sup.placements(name);
    const refused = await tail.#follow(home!);
    if (refused || !res.headersSent) {
      tail.#close();
      if (res.headersSent) return;
      // No answer at all: the home engine was not back within the restart wait, or its stream
      // broke before it answered.
      const answer = refused ?? errorAnswer(new SandboxUnavailableError('the function\'s engine is not serving; try again'), name, false);
      res.writeHead(answer.status, answer.headers).end(answer.body);
      return;
    }
    await Promise.all(others.map((slot) => tail.#follow(slot)));
  }

  /**
   * Opens slot's stream; resolves once it is following (the engine registers the follower before
   * it answers) or with the engine's refusal.
   */
  async #follow(slot: number): Promise<Refusal | undefined> {
    if (!this.#open || this.#upstreams.has(slot)) return undefined;
    const up: Upstream = { slot, decoder: new StringDecoder('utf8'), partial: '' };
    this.#upstreams.set(slot, up);
    let engine: EngineProcess;
    try {
      engine = await this.#sup.engineOf(slot);
    } catch {
      this.#upstreams.delete(slot);
      this.#endIfDone();
      return undefined;
    }
    return new Promise((resolve) => {
      let refusal: Refusal | undefined;
      // Once: following, or refused with the whole refusal read (a promise settles only once).
      const settle = () => resolve(refusal);
      // No body timeout: a quiet function's stream may carry nothing for hours.
      engine.pool.dispatch({ path: this.#path, method: 'GET', headers: this.#headers, bodyTimeout: 0 }, {
        onRequestStart: (c) => {
          up.controller = c;
          if (!this.#open) c.abort(new Error('client went away'));
        },
        onResponseStart: (_c, statusCode, headers) => {
          if (statusCode !== 200) {
            refusal = { status: statusCode, headers: { 'content-type': String(headers['content-type'] ?? 'application/json') }, body: '' };
            return;
          }
          if (!this.#res.headersSent) this.#res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
          settle();
        },
        onResponseData: (c, chunk) => {
          if (refusal) {
            refusal.body += up.decoder.write(chunk);
            return;
          }
          const text = up.partial + up.decoder.write(chunk);
          const end = text.lastIndexOf('\n') + 1;
          up.partial = text.slice(end);
          // Whole lines only, so two engines' lines never interleave mid-line.
          if (end > 0 && this.#open && !this.#res.write(text.slice(0, end))) c.pause();
        },
        onResponseEnd: () => {
          settle();
          this.#lost(up, refusal === undefined);
        },
        onResponseError: () => {
          settle();
          this.#lost(up, true);
        },
      });
    });
  }

  /** Slot's stream ended: follow its engine's successor while the function is still placed there. */
  #lost(up: Upstream, again: boolean): void {
    if (this.#upstreams.get(up.slot) !== up) return;
    this.#upstreams.delete(up.slot);
    if (again && this.#open && this.#sup.placements(this.#name).includes(up.slot)) {
      // engineOf waits for the replacement; a stream that ended because the engine shut down
      // cleanly (a recycle) comes back the same way.
      setTimeout(() => void this.#follow(up.slot).then(() => this.#endIfDone()), 50).unref();
      return;
    }
    this.#endIfDone();
  }

  #endIfDone(): void {
    if (this.#open && this.#upstreams.size === 0) {
      this.#close();
      if (this.#res.headersSent) this.#res.end();
    }
  }

  #close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#unhook();
    for (const up of this.#upstreams.values()) up.controller?.abort(new Error('client went away'));
    this.#upstreams.clear();
  }
}
