// A tenant's stream response body on the host side: a ReadableStream whose pulls ask the sandbox
// for one chunk at a time. It only pulls while its reader (the socket writer) wants more, so the
// bytes in flight stay bounded by the queue below plus one chunk, whatever the body's length.
import { ByteLengthQueuingStrategy } from 'node:stream/web';

/** Bytes read ahead of the socket: enough to keep it busy while the next chunk is produced. */
const READ_AHEAD_BYTES = 64 * 1024;

export interface StreamedBodySource {
  /** Ask the isolate for the next chunk; it arrives through StreamedBody.receive. */
  pull(): void;
  /** The reader went away (client disconnected): stop the tenant's stream. */
  cancel(): void;
  /** The body ended, by its end, an error or a cancel; called once. */
  closed(): void;
}

export class StreamedBody {
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #chunkArrived: (() => void) | undefined;
  #open = true;
  readonly #source: StreamedBodySource;
  /** The length the tenant declared for the body (a FixedLengthStream), which it is held to. */
  readonly #declared: number | undefined;
  #received = 0;
  /** receiveFirst's chunk is taken without a pull. */
  #firstAllowed = false;

  constructor(declaredLength: number | undefined, source: StreamedBodySource) {
    this.#declared = declaredLength;
    this.#source = source;
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => new Promise<void>((resolve) => {
        this.#chunkArrived = resolve;
        source.pull();
      }),
      cancel: () => {
        if (!this.#close()) return;
        source.cancel();
      },
    }, new ByteLengthQueuingStrategy({ highWaterMark: READ_AHEAD_BYTES }));
  }

  get open(): boolean {
    return this.#open;
  }

  /**
   * A chunk the sandbox was asked for (pull): bytes, or null for the end; `error` when the
   * tenant's stream failed. A chunk nobody asked for fails the body and answers false: a sandbox
   * sending chunks faster than the socket takes them would otherwise fill the engine's memory.
   */
  receive(chunk: ArrayBuffer | null, error: string | null): boolean {
    if (!this.#open) return true;
    if (this.#chunkArrived === undefined && !this.#firstAllowed) {
      this.fail(new Error('the sandbox sent a body chunk nobody asked for'));
      return false;
    }
    this.#firstAllowed = false;
    if (error !== null) {
      this.fail(new Error(`the response body stream failed: ${error}`));
      return true;
    }
    if (chunk !== null) this.#received += chunk.byteLength;
    // The declared length went out as the Content-Length: a body that breaks it would leave the
    // connection framed wrong for whatever follows on it, so it fails (and the connection is cut)
    // before a byte too many is passed on, or at an end that comes short.
    const declared = this.#declared;
    if (declared !== undefined && (this.#received > declared || (chunk === null && this.#received < declared))) {
      this.fail(new Error(`the response body was declared as ${declared} bytes and ${chunk === null ? 'ended after' : 'went past that, to'} ${this.#received}`));
      return true;
    }
    if (chunk !== null && chunk.byteLength === 0 && this.#chunkArrived !== undefined) {
      // An empty chunk carries nothing: the pull stays open and the sandbox is asked for the next
      // one. (Waking the stream instead left it waiting: a web stream pulls again after a pull
      // that enqueued nothing only if a read came in meanwhile, so two empty chunks in a row hung
      // the response until its wall-clock limit.)
      this.#source.pull();
      return true;
    }
    if (chunk === null) {
      this.#close();
      this.#controller.close();
    } else if (chunk.byteLength > 0) {
      this.#controller.enqueue(new Uint8Array(chunk));
    }
    this.#wake();
    return true;
  }

  /** The bytes that came with the answer's head, before anything was pulled (the process tiers send them). */
  receiveFirst(chunk: ArrayBuffer): void {
    this.#firstAllowed = true;
    this.receive(chunk, null);
  }

  /**
   * Ends the body with `reason` (a limit, the sandbox's death): the socket write fails and closes,
   * and the tenant's stream is cancelled, as when the client leaves; otherwise a stream cut at the
   * wall-clock limit would go on producing (its timers, its memory) for as long as the sandbox lives.
   */
  fail(reason: Error): void {
    if (!this.#close()) return;
    this.#controller.error(reason);
    this.#source.cancel();
    this.#wake();
  }

  #wake(): void {
    const resolve = this.#chunkArrived;
    this.#chunkArrived = undefined;
    resolve?.();
  }

  #close(): boolean {
    if (!this.#open) return false;
    this.#open = false;
    this.#source.closed();
    return true;
  }
}
