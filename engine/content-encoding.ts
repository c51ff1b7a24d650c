// Workers' Content-Encoding semantics: a response's Content-Encoding header says how the runtime
// must encode its body on the way out (Response init `encodeBody: 'automatic'`, the default), not
// that the bytes already are encoded. So `return fetch(upstream)` works: fetch() hands the tenant
// the decoded body with the upstream's header kept, and the body is encoded again here. A tenant
// that encoded the bytes itself says `encodeBody: 'manual'`. Done on the host with Node's zlib,
// off the event loop and off the tenant's CPU limit, as workerd does it outside JavaScript.
import { Duplex } from 'node:stream';
import zlib from 'node:zlib';

const ENCODERS: Record<string, () => Duplex> = {
  gzip: () => zlib.createGzip(),
  'x-gzip': () => zlib.createGzip(),
  deflate: () => zlib.createDeflate(),
  br: () => zlib.createBrotliCompress(),
  zstd: () => zlib.createZstdCompress(),
};

/** The codings of a Content-Encoding value, in the order they were applied. */
function codings(contentEncoding: string): string[] {
  return contentEncoding.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity');
}

/**
 * True when a body sent with this Content-Encoding value must be encoded here: codings islet knows
 * (one, or several in order, `gzip, br`, as fetch() decodes them). Anything else passes as it is.
 */
export function encodesBody(contentEncoding: string): boolean {
  const list = codings(contentEncoding);
  return list.length > 0 && list.every((c) => Object.hasOwn(ENCODERS, c));
}

/** `body` encoded as `contentEncoding` (one that encodesBody accepts), as a stream. */
export function encodeBody(body: string | Uint8Array | ReadableStream<Uint8Array>, contentEncoding: string): ReadableStream<Uint8Array> {
  let stream = body instanceof ReadableStream ? body : new Blob([body]).stream();
  for (const coding of codings(contentEncoding)) {
    stream = stream.pipeThrough(Duplex.toWeb(ENCODERS[coding]!()) as ReadableWritablePair<Uint8Array, Uint8Array>);
  }
  return stream;
}
