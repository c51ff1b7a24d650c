// Workers' byte TransformStreams. IdentityTransformStream passes the bytes written to it through
// unchanged; FixedLengthStream also holds them to a length declared up front, and a Response whose
// body is its readable side goes out with that Content-Length instead of chunked (a download's
// progress bar, a client that needs the size first). The host checks the bytes against the
// declared length again as they leave: a tenant owns its realm, runtime code included, so what it
// declares is a claim, and a wrong one must cut the connection rather than desync it.
//
// Both runtimes define them: the isolate's over the web-streams-polyfill classes, the process
// tier's over Node's, so the classes take what they build on as arguments.

import type { Transformer } from 'web-streams-polyfill';
import { nullProto } from '../webidl/null-prototype.ts';

/** What the writable side takes: WebIDL's BufferSource. */
type ByteChunk = ArrayBuffer | ArrayBufferView;

export interface ByteStreamOptions {
  /** Bytes the writable side queues before write() waits (workerd's option; default: one chunk). */
  highWaterMark?: number;
}

export interface IdentityStreams {
  IdentityTransformStream: new (options?: ByteStreamOptions) => TransformStream<ByteChunk, Uint8Array>;
  FixedLengthStream: new (expectedLength: number | bigint, options?: ByteStreamOptions) => TransformStream<ByteChunk, Uint8Array>;
}

/**
 * Defines the two classes over `Transform`. `bytesOf` gives a chunk's bytes (null: not a
 * BufferSource); `declare` records the length a FixedLengthStream's readable side will carry.
 */
export function defineIdentityStreams(
  Transform: typeof TransformStream,
  bytesOf: (chunk: unknown) => Uint8Array | null,
  declare: (readable: ReadableStream<Uint8Array>, length: number) => void,
): IdentityStreams {
  const encoder = new TextEncoder();

  /** A chunk's bytes: a BufferSource's, or a string's in UTF-8, as workerd takes them; undefined is nothing. */
  function chunkBytes(chunk: unknown): Uint8Array | null {
    if (chunk === undefined) return null;
    if (typeof chunk === 'string') return encoder.encode(chunk);
    const bytes = bytesOf(chunk);
    if (bytes !== null) return bytes;
    throw new TypeError('This TransformStream carries bytes: write an ArrayBuffer, a view of one, or a string');
  }

  /**
   * Without a highWaterMark, the writable side takes one chunk before write() waits, as a plain
   * TransformStream's does: at 0, pipeTo() (which writes only while there is room) never started.
   */
  function strategy(options: ByteStreamOptions | undefined): QueuingStrategy<unknown> | undefined {
    if (options === undefined || options === null) return undefined;
    if (typeof options !== 'object') throw new TypeError('The options must be an object like { highWaterMark }');
    if (options.highWaterMark === undefined) return undefined;
    const highWaterMark = Number(options.highWaterMark);
    if (!(highWaterMark >= 0)) throw new TypeError('highWaterMark must be a non-negative number');
    return { highWaterMark, size: (chunk) => (typeof chunk === 'string' ? chunk.length : bytesOf(chunk)?.byteLength ?? 0) };
  }

  // The length the FixedLengthStream being constructed passes to its base class: constructors run
  // synchronously, so it is read before anything else could set it.
  let nextExpected: number | undefined;

  class IdentityTransformStream extends Transform<ByteChunk, Uint8Array> {
    constructor(options?: ByteStreamOptions) {
      const expected = nextExpected;
      nextExpected = undefined;
      let seen = 0;
      super(nullProto<Transformer<ByteChunk, Uint8Array>>({
        transform(chunk, controller) {
          const bytes = chunkBytes(chunk);
          // Nothing to pass on: a reader never sees an empty chunk, as in workerd.
          if (bytes === null || bytes.byteLength === 0) return;
          if (expected !== undefined) {
            seen += bytes.byteLength;
            // As on workerd, the write that overflows resolves and the stream errors: the reader
            // (the response body) fails, and later writes reject.
            if (seen > expected) {
              controller.error(new TypeError(`More bytes were written to a FixedLengthStream than the ${expected} it was made for`));
              return;
            }
          }
          controller.enqueue(bytes);
        },
        flush() {
          if (expected !== undefined && seen < expected) {
            throw new TypeError(`A FixedLengthStream made for ${expected} bytes was closed after ${seen}`);
          }
        },
      }), strategy(options));
      if (expected !== undefined) declare(this.readable, expected);
    }

    get [Symbol.toStringTag](): string {
      return 'IdentityTransformStream';
    }
  }

  class FixedLengthStream extends IdentityTransformStream {
    constructor(expectedLength: number | bigint, options?: ByteStreamOptions) {
      // WebIDL's conversion to an integer, as workerd's: "5" and 5.7 are 5.
      const expected = Math.trunc(Number(expectedLength));
      if (!Number.isFinite(expected) || expected < 0 || expected >= 2 ** 53 || (expectedLength as unknown) === undefined) {
        throw new TypeError('FixedLengthStream requires an integer expected length less than 2^53');
      }
      nextExpected = expected;
      try {
        super(options);
      } finally {
        nextExpected = undefined;
      }
    }

    override get [Symbol.toStringTag](): string {
      return 'FixedLengthStream';
    }
  }

  return { IdentityTransformStream, FixedLengthStream };
}
