// Digests for isolates (crypto.subtle.digest, crypto.DigestStream), computed by node:crypto on a
// synchronous host call. Such a call runs on the engine's event loop, so one call hashes at most
// DIGEST_PIECE_BYTES (~0.5 ms of SHA-256 here): the runtime feeds bigger data piece by piece into
// a hash kept here between calls, and other tenants' I/O runs between the pieces. (One call over
// 32 MB held the loop for 60 ms.) The isolate waits through each call and its clock stands still,
// so the sandbox charges the call's time on the host to the tenant's CPU limit (#charged in
// isolate-sandbox.ts), as workerd's would count its hashing.
import { createHash, type Hash } from 'node:crypto';
import { NODE_DIGESTS } from '../../../runtime-api/host/digest-names.ts';

/** Bytes one host call may hash: the runtime's piece size (runtime-api/host/digest.ts) is the same. */
export const DIGEST_PIECE_BYTES = 256 * 1024;

/**
 * DigestStreams (and big digests in progress) one isolate may have open at once. A stream left
 * neither closed nor aborted (a handler that returned early) keeps its hash until then: past
 * this, the oldest open one is let go, and a later write to it fails, where refusing new ones
 * would have stopped every DigestStream of a long-lived isolate after enough abandoned ones.
 */
const MAX_OPEN_DIGESTS = 1_024;
/** Streams let go of, remembered so that their next write fails rather than starting afresh. */
const MAX_REMEMBERED_DROPS = 4_096;

export class Digests {
  readonly #open = new Map<number, Hash>();
  readonly #dropped = new Set<number>();

  /**
   * Hashes `data` with `algorithm` (a node:crypto name). Stream 0 is a one-shot digest; any other
   * stream number feeds that stream's hash, made on first use, and `end` returns its digest and
   * forgets it. Everything here comes from the isolate, so it is checked first.
   */
  update(algorithm: unknown, data: unknown, stream: unknown, end: unknown): ArrayBuffer | null {
    if (typeof algorithm !== 'string' || !NODE_DIGESTS.has(algorithm) || !(data instanceof ArrayBuffer) || !Number.isSafeInteger(stream)) {
      throw new TypeError('digest: unsupported algorithm or data');
    }
    if (data.byteLength > DIGEST_PIECE_BYTES) throw new TypeError(`digest: more than ${DIGEST_PIECE_BYTES} bytes in one piece`);
    const id = stream as number;
    if (this.#dropped.has(id)) {
      throw new TypeError(`this DigestStream was let go: more than ${MAX_OPEN_DIGESTS} were open at once, and it was the oldest`);
    }
    let hash = this.#open.get(id);
    if (hash === undefined) {
      if (id !== 0 && this.#open.size >= MAX_OPEN_DIGESTS) this.#dropOldest();
      hash = createHash(algorithm);
      if (id !== 0) this.#open.set(id, hash);
    }
    hash.update(new Uint8Array(data));
    if (id !== 0 && end !== true) return null;
    this.#open.delete(id);
    const out = hash.digest();
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
  }

  #dropOldest(): void {
    const oldest = this.#open.keys().next().value!;
    this.#open.delete(oldest);
    this.#dropped.add(oldest);
    if (this.#dropped.size > MAX_REMEMBERED_DROPS) this.#dropped.delete(this.#dropped.values().next().value!);
  }

  /** Forgets every open hash (the isolate is gone). */
  clear(): void {
    this.#open.clear();
    this.#dropped.clear();
  }
}
