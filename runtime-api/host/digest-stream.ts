// Workers' crypto.DigestStream: a WritableStream whose `digest` promise resolves to the hash of
// every byte written, once it is closed. Both runtimes define it from this module: the isolate's
// over the host's kept hashes (digest.ts), the process tiers' over node:crypto, each with its own
// WritableStream class.

import { nullProto } from '../webidl/null-prototype.ts';

/** One stream's hash: fed as bytes are written, then finished once (or dropped). */
export interface Hasher {
  update(bytes: Uint8Array): void;
  finish(): ArrayBuffer;
  /** Lets go of the hash without a result (the stream was aborted or failed). */
  drop(): void;
}

export interface DigestStreamOptions {
  /** The hasher for `algorithm` (a name or `{ name }`); throws Web Crypto's error for one not offered. */
  hasher(algorithm: unknown): Hasher;
  /** A chunk's bytes: strings in UTF-8, BufferSources as they are; null for anything else. */
  bytesOf(chunk: unknown): Uint8Array | null;
}

export function defineDigestStream(Writable: typeof WritableStream, options: DigestStreamOptions): new (algorithm: unknown) => WritableStream<unknown> {
  return class DigestStream extends Writable<unknown> {
    readonly #digest: Promise<ArrayBuffer>;
    #bytesWritten = 0n;

    constructor(algorithm: unknown) {
      const hasher = options.hasher(algorithm);
      let settle!: { resolve(digest: ArrayBuffer): void; reject(reason: unknown): void };
      const digest = new Promise<ArrayBuffer>((resolve, reject) => {
        settle = { resolve, reject };
      });
      // `this` is not there before super(): written bytes are counted through this.
      let counted = (_bytes: number) => {};
      super(nullProto<NonNullable<ConstructorParameters<typeof WritableStream<unknown>>[0]>>({
        write(chunk) {
          try {
            const bytes = options.bytesOf(chunk);
            if (bytes === null) throw new TypeError('DigestStream takes an ArrayBuffer, a view of one, or a string');
            if (bytes.byteLength === 0) return;
            hasher.update(bytes);
            counted(bytes.byteLength);
          } catch (err) {
            // The stream errors with it, and so does the digest: it can no longer be had.
            hasher.drop();
            settle.reject(err);
            throw err;
          }
        },
        close() {
          settle.resolve(hasher.finish());
        },
        abort(reason) {
          hasher.drop();
          settle.reject(reason);
        },
      }));
      this.#digest = digest;
      counted = (bytes) => void (this.#bytesWritten += BigInt(bytes));
      // Nobody need await it: a rejection after abort() must not count as unhandled.
      digest.catch(() => {});
    }

    get digest(): Promise<ArrayBuffer> {
      return this.#digest;
    }

    /** Bytes written so far, a bigint (workerd's). */
    get bytesWritten(): bigint {
      return this.#bytesWritten;
    }

    get [Symbol.toStringTag](): string {
      return 'DigestStream';
    }
  };
}
