// Calls the host answers later, by id (subrequests, AI calls): each waits here until the host
// settles it; an AbortSignal rejects it at once with the signal's reason and tells the host to stop.
// The call that settles one works for the request that started it (dispatch/chain-depth.ts).
import { addAbortAlgorithm, type AbortSignal } from '../web/index.ts';
import { chainDepth, enterChain, UNKNOWN_DEPTH } from '../dispatch/chain-depth.ts';
import { holdBytesToHost, releaseBytesToHost } from './bytes-to-host.ts';

export interface Settle<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
  /** The service-binding depth of the request that started it. */
  depth: number;
}

export class PendingCalls<T> {
  // A null-prototype record, not a Map: the count below is moved only for entries really there, and
  // a tenant's replaced Map.prototype.get (answering for ids that had gone) drove it below zero,
  // voiding every bound kept with it (300 AI calls of 4 MB went out where 64 may).
  readonly #pending = Object.create(null) as Record<number, Settle<T>>;
  #nextId = 1;
  // Counted apart from the record: callers bound their calls in flight by it; a plain number the
  // tenant cannot reach.
  #count = 0;
  /**
   * The bytes each call handed the host (bytes-to-host.ts), counted until the host settles it
   * (take), which it does for every call it was given, aborted ones too: it holds them until then.
   */
  readonly #bytes = Object.create(null) as Record<number, number>;

  get size(): number {
    return this.#count;
  }

  /**
   * Starts a call: `send(id)` hands it to the host, with `bytes` of data the host holds until it
   * settles the call; `abort(id)` tells the host it was cancelled.
   */
  start(signal: AbortSignal | undefined, send: (id: number) => void, abort: (id: number) => void, bytes = 0): Promise<T> {
    // Aborted while the caller was getting ready (reading a body): an abort algorithm would never run.
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = this.#nextId++;
    const depth = chainDepth();
    this.#count++;
    return new Promise<T>((resolve, reject) => {
      let stopListening = () => {};
      this.#pending[id] = {
        resolve: (value) => {
          stopListening();
          resolve(value);
        },
        reject: (err) => {
          stopListening();
          reject(err);
        },
        depth,
      };
      try {
        if (signal) {
          stopListening = addAbortAlgorithm(signal, () => {
            if (this.#pending[id] === undefined) return;
            delete this.#pending[id];
            this.#count--;
            abort(id);
            reject(signal.reason);
          });
        }
        send(id);
        // After the call: one that threw handed the host nothing.
        if (bytes > 0) {
          holdBytesToHost(bytes);
          this.#bytes[id] = bytes;
        }
      } catch (err) {
        // The host was never given it (isolated-vm could not copy an argument, a signal that is
        // none): it is no call of the host's to settle. Left counted, 256 such calls had every later
        // fetch() of the isolate refused as too many pending, long after.
        stopListening();
        if (this.#pending[id] !== undefined) {
          delete this.#pending[id];
          this.#count--;
        }
        throw err;
      }
    });
  }

  /**
   * Takes call `id` out to settle it (undefined when it was settled or aborted already): the work
   * that follows is its starter's.
   */
  take(id: number): Settle<T> | undefined {
    const bytes = this.#bytes[id];
    if (bytes !== undefined) {
      delete this.#bytes[id];
      releaseBytesToHost(bytes);
    }
    const p = this.#pending[id];
    if (p !== undefined) {
      delete this.#pending[id];
      this.#count--;
    }
    enterChain(p ? p.depth : UNKNOWN_DEPTH);
    return p;
  }
}
