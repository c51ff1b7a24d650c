// Node's IncomingMessage → WireRequest without building a Web Request first: raw headers are
// already the flat list the isolate wants. A small body is read whole before dispatch (one copy,
// one batch); a big or chunked one streams to the tenant as it reads it.
import type { IncomingMessage } from 'node:http';
import { BadRequestError, BodyTooLargeError, RequestTimeoutError } from '../errors.ts';
import { MAX_BUFFERED_BODY_BYTES } from '../limits.ts';
import { joinBytes } from '../../runtime-api/web/bytes.ts';
import type { WireRequest } from '../wire.ts';
import { incomingBodyStream } from './incoming-body.ts';

/** The request line and headers of `incoming`, as a WireRequest without a body. */
function wireHeadFromIncoming(incoming: IncomingMessage): WireRequest {
  return { method: incoming.method ?? 'GET', url: requestUrl(incoming), headers: incoming.rawHeaders, body: null };
}

/**
 * `incoming` as a WireRequest. A body read whole must arrive within `bodyWithinMs` (the
 * function's wallMs), or a client trickling it holds the connection until Node's 5-minute
 * requestTimeout; a streamed one is read by the tenant, under its own wall clock.
 */
export function wireFromIncoming(incoming: IncomingMessage, fn: string, maxBodyBytes: number, bodyWithinMs = Infinity): WireRequest | Promise<WireRequest> {
  checkOneHost(incoming.rawHeaders);
  const { method, url, headers } = wireHeadFromIncoming(incoming);
  const hasBody = method !== 'GET' && method !== 'HEAD'
    && (incoming.headers['content-length'] !== undefined || incoming.headers['transfer-encoding'] !== undefined);
  if (!hasBody) return { method, url, headers, body: null };
  const declared = Number(incoming.headers['content-length']);
  if (declared > maxBodyBytes) {
    incoming.resume();
    return Promise.reject(new BodyTooLargeError(fn, maxBodyBytes));
  }
  if (declared <= MAX_BUFFERED_BODY_BYTES) return readBody(incoming, fn, maxBodyBytes, bodyWithinMs).then((body) => ({ method, url, headers, body }));
  return { method, url, headers, body: incomingBodyStream(incoming, fn, maxBodyBytes) };
}

// A request's URL as the URL standard serializes it, which is what `request.url` must be in the
// isolate. Most targets are already in that form; the rest go through Node's WHATWG URL parser.
const PLAIN_HOST = /^[a-z0-9.-]+(?::\d{1,5})?$/;
const PLAIN_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/;

export function requestUrl(incoming: IncomingMessage): string {
  let target = incoming.url ?? '/';
  // A request-target has no fragment (RFC 9112 §3.2); Node lets one through.
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const host = incoming.headers.host || 'localhost';
  const scheme = (incoming.socket as { encrypted?: boolean } | null)?.encrypted ? 'https' : 'http';
  if (PLAIN_HOST.test(host) && !host.endsWith(scheme === 'http' ? ':80' : ':443') && PLAIN_PATH.test(target) && !target.includes('/.')) {
    return `${scheme}://${host}${target}`;
  }
  // Absolute-form targets ("GET http://a/b") are URLs already; origin-form ones get the Host.
  const parsed = URL.parse(target.charCodeAt(0) === 47 /* / */ ? `${scheme}://${host}${target}` : target);
  if (!parsed) throw new BadRequestError(`the request's Host (${JSON.stringify(host)}) and target do not form a valid URL`);
  return parsed.href;
}

/**
 * RFC 9112 §3.2: a request with more than one Host is answered 400. Node keeps the first; a proxy
 * in front may have routed by another, and the function must not be chosen by one and see the other.
 */
export function checkOneHost(rawHeaders: string[]): void {
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1) throw new BadRequestError('the request has more than one Host header');
  }
}

function readBody(incoming: IncomingMessage, fn: string, maxBodyBytes: number, withinMs: number): Promise<ArrayBuffer> {
  let late: NodeJS.Timeout | undefined;
  return new Promise<ArrayBuffer>((resolve, reject) => {
    if (Number.isFinite(withinMs)) late = setTimeout(() => reject(new RequestTimeoutError(fn, withinMs)), withinMs);
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        incoming.off('data', onData);
        // Keep reading into the void so the answer can still be written on this connection.
        incoming.resume();
        reject(new BodyTooLargeError(fn, maxBodyBytes));
        return;
      }
      chunks.push(chunk);
    };
    incoming.on('data', onData);
    incoming.once('end', () => {
      if (size > maxBodyBytes) return;
      resolve(joinBytes(chunks, size).buffer);
    });
    const cutShort = () => new BadRequestError('the client closed the connection before sending the whole body');
    // Node fails the body ('aborted', ECONNRESET) when the client leaves or its 408 ends a slow
    // upload: the client's doing, not an internal error to log with a stack.
    incoming.once('error', (err) => reject(incoming.complete ? err : cutShort()));
    // A client that goes away mid-upload ends the stream with neither 'end' nor (always) 'error'.
    incoming.once('close', () => {
      if (!incoming.complete) reject(cutShort());
    });
  }).finally(() => clearTimeout(late));
}
