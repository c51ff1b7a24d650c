// Node's IncomingMessage → WireRequest without building a Web Request first: raw headers are
// already the flat list the isolate wants. A small body is read whole before dispatch (one copy,
// one batch); a big or chunked one streams to the tenant as it reads it.
import type { IncomingMessage } from 'node:http';
import { BadRequestError, BodyTooLargeError, RequestTimeoutError } from '../errors.ts';
import { MAX_BUFFERED_BODY_BYTES } from '../limits.ts';
import { joinBytes } from '../../runtime-api/web/bytes.ts';
import type { WireRequest } from '../wire.ts';
import { incomingBodyStream } from './incoming-body.ts';
import { EXPECTS_CONTINUE } from './server.ts';

/** The request line and headers of `incoming`, as a WireRequest without a body. */
function wireHeadFromIncoming(incoming: IncomingMessage): WireRequest {
  const url = requestUrl(incoming);
  // An absolute-form target names the host, and the Host header is ignored (RFC 9112 §3.2.2): the
  // function sees the Host its URL has, not one naming another function (as a proxy would pass it on).
  const headers = isAbsoluteForm(incoming.url) ? withHost(incoming.rawHeaders, new URL(url).host) : incoming.rawHeaders;
  return { method: incoming.method ?? 'GET', url, headers, body: null };
}

function isAbsoluteForm(target: string | undefined): boolean {
  return target !== undefined && target.charCodeAt(0) !== 47 /* / */;
}

/** `rawHeaders` with its Host (there is at most one: checkOneHost) set to `host`. */
function withHost(rawHeaders: string[], host: string): string[] {
  const headers = rawHeaders.slice();
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === 'host') {
      headers[i + 1] = host;
      return headers;
    }
  }
  headers.push('Host', host);
  return headers;
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
    // Drained so that the connection can serve on, unless the client waits to be asked for it
    // (Expect: 100-continue): then it is not asked, and the connection closes after the 413.
    if (!EXPECTS_CONTINUE.test(incoming.headers.expect ?? '')) incoming.resume();
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
  if (isAbsoluteForm(target)) return absoluteTargetUrl(target, scheme);
  // Origin-form targets get the Host.
  const parsed = URL.parse(`${scheme}://${host}${target}`);
  if (!parsed) throw new BadRequestError(`the request's Host (${JSON.stringify(host)}) and target do not form a valid URL`);
  return parsed.href;
}

/**
 * An absolute-form target ("GET http://a.example/x"), a URL already, with the scheme of the
 * connection it came on: a client may not tell a function it came over https on plain TCP (only
 * a proxy in front can, with trustProxy). Credentials in it are an error (RFC 9110 §4.2.4).
 */
function absoluteTargetUrl(target: string, scheme: string): string {
  const parsed = URL.parse(target);
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.host) {
    throw new BadRequestError(`the request's target ${JSON.stringify(target.slice(0, 200))} is not an http or https URL`);
  }
  if (parsed.username || parsed.password) throw new BadRequestError('the request\'s target carries credentials (user:password@), which HTTP does not send there');
  // The setter drops a port that is the new scheme's default, as the URL standard serializes it.
  if (parsed.protocol !== `${scheme}:`) parsed.protocol = `${scheme}:`;
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
