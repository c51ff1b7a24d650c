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
  // Node's default quality, 11, is for compressing once ahead of time: ~20 times the CPU of
  // quality 4 for a few percent of size. On the fly, per response, the host pays for it and the
  // tenant does not (8 MB took 1.1 s of host CPU against 20 ms charged); Cloudflare compresses
  // dynamic responses at 4 too.
  br: () => zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } }),
  zstd: () => zlib.createZstdCompress(),
};

/**
 * The most codings the host applies to one body. Real responses have one; two in order is the
 * most fetch() hands a tenant to pass on. Each is a compressor of its own, fed the last one's
 * growing output: a header listing gzip 5,000 times cost one request 14.8 s of host CPU and
 * 1.2 GB of memory.
 */
const MAX_CODINGS = 2;

/** The codings of a Content-Encoding value, in the order they were applied. */
function codings(contentEncoding: string): string[] {
  return contentEncoding.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity');
}

/**
 * True when a body sent with this Content-Encoding value must be encoded here: codings islet knows
 * (one, or two in order, `gzip, br`, as fetch() decodes them). Anything else passes as it is, as
 * an unknown coding does: the tenant then answers for what its header says.
 */
export function encodesBody(contentEncoding: string): boolean {
  const list = codings(contentEncoding);
  return list.length > 0 && list.length <= MAX_CODINGS && list.every((c) => Object.hasOwn(ENCODERS, c));
}

/** `body` encoded as `contentEncoding` (one that encodesBody accepts), as a stream. */
export function encodeBody(body: string | Uint8Array | ReadableStream<Uint8Array>, contentEncoding: string): ReadableStream<Uint8Array> {
  let stream = body instanceof ReadableStream ? body : new Blob([body]).stream();
  for (const coding of codings(contentEncoding)) {
    stream = stream.pipeThrough(Duplex.toWeb(ENCODERS[coding]!()) as ReadableWritablePair<Uint8Array, Uint8Array>);
  }
  return stream;
}
