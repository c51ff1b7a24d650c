// Hashing on the host, piece by piece: a host call runs on the engine's event loop, so it takes at
// most PIECE_BYTES (engine/tiers/isolate/digests.ts holds it to that), and bigger data goes as
// pieces into a hash the host keeps between calls. crypto.subtle.digest and Workers'
// crypto.DigestStream both use it.
import { utf8Encode } from '../encoding/utf8.ts';
import { DOMException } from '../web/dom-exception.ts';
import { WritableStream } from '../web/streams.ts';
import { viewBufferSource } from '../webidl/index.ts';
import { nodeDigestName } from './digest-names.ts';
import { defineDigestStream } from './digest-stream.ts';
import { host } from './host-calls.ts';
import { copyOfRange, viewByteLength } from '../web/plain-bytes.ts';

const PIECE_BYTES = 256 * 1024;

/** The host's name for a digest algorithm (a name or `{ name }`), or the error Web Crypto names. */
export function digestName(algorithm: unknown, where: string): string {
  return nodeDigestName(algorithm, where, DOMException as unknown as typeof globalThis.DOMException);
}

// Stream 0 is the host's one-shot digest; these number the hashes kept open between calls.
let nextStream = 1;

/**
 * The host call for one piece: bytes `start` to `end` of the view, copied out with the getters
 * there were at load (plain-bytes.ts). The call copies what it is given before the host can look:
 * a tenant's replaced slice or buffer getter could have handed it anything.
 */
function feed(name: string, bytes: Uint8Array, stream: number, end: boolean, start = 0, stop = PIECE_BYTES): ArrayBuffer | null {
  return host().digest(name, copyOfRange(bytes, start, stop, 'digest'), stream, end);
}

/** Feeds `bytes` to open hash `stream`, piece by piece. */
function feedPieces(name: string, bytes: Uint8Array, stream: number): void {
  const length = viewByteLength(bytes, 'digest');
  for (let at = 0; at < length; at += PIECE_BYTES) feed(name, bytes, stream, false, at, at + PIECE_BYTES);
}

/** The digest of `bytes` with the host's hash `name`. */
export function digestBytes(name: string, bytes: Uint8Array): ArrayBuffer {
  if (viewByteLength(bytes, 'digest') <= PIECE_BYTES) return feed(name, bytes, 0, true)!;
  const stream = nextStream++;
  feedPieces(name, bytes, stream);
  return feed(name, NO_BYTES, stream, true)!;
}

const NO_BYTES = new Uint8Array(0);

/**
 * Workers' crypto.DigestStream (digest-stream.ts) over the host's kept hashes: the bytes go to the
 * host as they are written, and the isolate keeps none of them. Chunks are BufferSources or
 * strings (UTF-8), as in workerd.
 */
export const DigestStream = defineDigestStream(WritableStream as unknown as typeof globalThis.WritableStream, {
  hasher(algorithm) {
    const name = digestName(algorithm, 'DigestStream');
    const stream = nextStream++;
    // The host's hash exists once a byte was fed to it: one never fed needs no call to drop it.
    let opened = false;
    return {
      update(bytes) {
        feedPieces(name, bytes, stream);
        opened = true;
      },
      finish: () => feed(name, NO_BYTES, stream, true)!,
      drop() {
        if (!opened) return;
        opened = false;
        try {
          feed(name, new Uint8Array(0), stream, true);
        } catch {
          // Already gone on the host (let go as one of the oldest): nothing to drop.
        }
      },
    };
  },
  bytesOf: (chunk) => (typeof chunk === 'string' ? utf8Encode(chunk) : viewBufferSource(chunk, false, 'DigestStream')),
});
