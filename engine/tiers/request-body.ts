// A streamed request body that a sandbox pulls as its tenant reads it, whatever the tier: the
// next chunk, its end, or why it cannot be read. Released once the whole response went out (the
// server drains the rest of the upload then): a later read fails, as on Workers, rather than
// ending early and passing for the whole body.
import { IsletError } from '../errors.ts';

/**
 * V8's message for an ArrayBuffer it cannot allocate (past an isolate's memory limit). Sent as a
 * request body chunk's error, the runtime rejects the read with a RangeError of that message
 * (runtime-api/dispatch/request-stream.ts), which a sandbox treats as the memory limit if the
 * tenant lets it escape.
 */
export const ALLOCATION_FAILED = 'Array buffer allocation failed';

export const BODY_AFTER_RESPONSE = "the request body can't be read after the response was sent; read it (or tee it) before responding";

/** [bytes, null], [null, null] at the end, or [null, why] when it cannot be read. */
export type BodyChunk = [chunk: ArrayBuffer | null, error: string | null];

export class RequestBody {
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  next(): Promise<BodyChunk> {
    const reader = this.#reader;
    if (!reader) return Promise.resolve([null, BODY_AFTER_RESPONSE]);
    return reader.read().then(
      ({ done, value }): BodyChunk => {
        // Released while this read waited: the end it reports is the release, not the body's.
        if (done && this.#reader !== reader) return [null, BODY_AFTER_RESPONSE];
        if (done) this.#reader = undefined;
        return [done ? null : ownBuffer(value), null];
      },
      (err: unknown): BodyChunk => {
        this.#reader = undefined;
        return [null, err instanceof IsletError ? err.message : 'the request body could not be read'];
      },
    );
  }

  /** The tenant cancelled it, its response went out whole, or its request ended: the rest is drained. */
  release(): void {
    this.#reader?.cancel().catch(() => {});
    this.#reader = undefined;
  }
}

/** The bytes of `view` as an ArrayBuffer of their own (a copy only when the view is part of a buffer). */
function ownBuffer(view: Uint8Array): ArrayBuffer {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer
    ? view.buffer : view.slice().buffer;
}
