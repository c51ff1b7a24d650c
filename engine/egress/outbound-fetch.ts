// Subrequests made by tenant code (the isolate's fetch()), executed by the host with undici.
// Every connection goes through one lookup that refuses non-public addresses unless the function
// is allowed them, and redirects are followed here, hop by hop, so that no hop escapes the check
// (a redirect to an IP literal never goes through DNS). Time spent waiting here is not the
// tenant's CPU time: its isolate is idle meanwhile.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, fetch } from 'undici';
import { normalizedMethod } from '../../runtime-api/fetch/methods.ts';
import { joinBytes } from '../../runtime-api/web/bytes.ts';
import { isNonPublicAddress } from './address-policy.ts';
import type { ConnectOutboundSocket } from './outbound-websocket.ts';
import type { Lender } from '../wire.ts';

export interface EgressOptions {
  /** Let subrequests reach loopback, private and link-local addresses. Default false. */
  allowPrivate?: boolean;
  /** Whole subrequest, redirects and body included. Default 30 s. */
  timeoutMs?: number;
  /** Largest response body handed back to the tenant. Default 32 MB. */
  maxResponseBytes?: number;
}

export interface OutboundRequest {
  method: string;
  url: string;
  headers: string[];
  body: ArrayBuffer | null;
  redirect: 'follow' | 'manual' | 'error';
}

export interface OutboundResponse {
  status: number;
  statusText: string;
  headers: string[];
  body: ArrayBuffer | null;
  /** Every URL the request went to, redirects included. */
  urls: string[];
}

/** Shown to the tenant as a TypeError from fetch(), as network errors are on the web. */
export class EgressError extends Error {}

const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Bytes of subrequest responses a sandbox may have the host hold at once. A body is read whole
 * before it is handed over, in the host's memory: without a bound across a sandbox's pending
 * subrequests, one request of a 128 MB function had the engine hold 1.5 GB (50 slow 30 MB
 * bodies). The caller gives back a body's bytes once it has handed the body over.
 */
export class ResponseBytes {
  #held = 0;
  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }

  take(bytes: number): boolean {
    if (this.#held + bytes > this.limit) return false;
    this.#held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
  }

  /** True while what is held has reached the limit: nothing more can be taken. */
  get full(): boolean {
    return this.#held >= this.limit;
  }
}

/**
 * Runs one subrequest; `signal` cancels it (the tenant aborted, or its isolate went away), and
 * `held` bounds the response bytes its sandbox's subrequests hold together; `service` names the
 * caller's service binding it goes through, if it does, `depth` how many service-binding calls
 * deep the caller already is and `lender` who lends the call a place (bindings/service-binding.ts).
 * `connectSocket`, where given, opens a WebSocket under the same policy (outbound-websocket.ts);
 * without it, none opens.
 */
export type OutboundFetch = ((request: OutboundRequest, signal?: AbortSignal, held?: ResponseBytes, service?: string, depth?: number, lender?: Lender, deadline?: number) => Promise<OutboundResponse>) & {
  connectSocket?: ConnectOutboundSocket;
};

/** The egress policy's DNS lookup, for any connection a tenant makes: non-public addresses are refused unless allowed. */
export function egressLookup(allowPrivate: boolean): LookupFunction {
  return ((hostname: string, opts: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    dnsLookup(hostname, { all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err);
      const usable = allowPrivate ? addresses : addresses.filter((a) => !isNonPublicAddress(a.address));
      if (usable.length === 0) return callback(new EgressError(`fetch to ${hostname} refused: it resolves only to non-public addresses`));
      if (opts.all) callback(null, usable);
      else callback(null, usable[0]!.address, usable[0]!.family);
    });
  }) as unknown as LookupFunction;
}

export function createOutboundFetch(options: EgressOptions = {}): OutboundFetch {
  const allowPrivate = options.allowPrivate ?? false;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxBytes = options.maxResponseBytes ?? 32 * 1024 * 1024;

  const lookup = egressLookup(allowPrivate);
  const agent = new Agent({ connect: { lookup } });

  const outbound: OutboundFetch = async (request, cancel, held, service) => {
    // Service bindings are routed before the network (bindings/service-binding.ts).
    if (service !== undefined) throw new EgressError(`fetch: this function has no service binding "${service}"`);
    // One controller and one timer, both let go when the call ends: AbortSignal.timeout() and
    // AbortSignal.any() are kept alive by Node until the timeout fires, with undici's listener on
    // them (~1.5 KB a subrequest for 30 s after it finished: 200 MB at 5,000 subrequests a second).
    const controller = new AbortController();
    const signal = controller.signal;
    const timer = setTimeout(() => controller.abort(new DOMException(`fetch timed out after ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    const onCancel = () => controller.abort(cancel!.reason);
    if (cancel?.aborted) onCancel();
    else cancel?.addEventListener('abort', onCancel, { once: true });
    const urls: string[] = [];
    let { url, body } = request;
    // Fetch upper-cases only six methods; the rest go out as written, and servers refuse a
    // lower-case `patch`. workerd sends every method it knows in upper case, and so does islet.
    let method = normalizedMethod(request.method);
    let headers = withoutHopByHop(request.headers);
    try {
      for (;;) {
        checkUrl(url, allowPrivate);
        urls.push(url);
        const res = await fetch(url, {
          method,
          headers: pairs(headers),
          body: body === null ? null : new Uint8Array(body),
          redirect: 'manual',
          signal,
          dispatcher: agent,
        });
        const hop = nextHop(request.redirect, { url, method, headers, body }, res.status, res.headers.get('location'), urls.length, request.url);
        if (hop) {
          await res.body?.cancel();
          ({ url, method, headers, body } = hop);
          continue;
        }
        const flat: string[] = [];
        res.headers.forEach((value, name) => flat.push(name, value));
        return { status: res.status, statusText: res.statusText, headers: flat, body: await readBody(res, maxBytes, url, held), urls };
      }
    } catch (err) {
      if (cancel?.aborted) throw new EgressError(`fetch to ${request.url} was aborted`);
      throw toEgressError(err, request.url, timeoutMs);
    } finally {
      clearTimeout(timer);
      cancel?.removeEventListener('abort', onCancel);
    }
  };
  return outbound;
}

/** One request of a subrequest's chain of redirects. */
export interface Hop {
  url: string;
  method: string;
  headers: string[];
  body: ArrayBuffer | null;
}

/**
 * Where a redirect answer leads (Fetch §4.4 "HTTP-redirect fetch"), or undefined when `status`
 * is the final answer; throws for redirect "error" and past MAX_REDIRECTS. `hops`: requests made.
 */
export function nextHop(redirect: OutboundRequest['redirect'], hop: Hop, status: number, location: string | null, hops: number, first: string): Hop | undefined {
  if (redirect === 'manual' || !REDIRECT_STATUSES.has(status) || location === null) return undefined;
  if (redirect === 'error') throw new EgressError(`fetch to ${hop.url} was redirected and redirect is "error"`);
  if (hops > MAX_REDIRECTS) throw new EgressError(`fetch to ${first} was redirected more than ${MAX_REDIRECTS} times`);
  // Steps 3-5: a Location that is no URL, or not an HTTP(S) one, is a network error. The network
  // path would refuse the next hop anyway (checkUrl); a service binding would call its function
  // again at `javascript:alert(1)`.
  const next = URL.parse(location, hop.url);
  if (next === null) throw new EgressError(`fetch to ${hop.url} was redirected to a Location that is not a valid URL`);
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new EgressError(`fetch to ${hop.url} was redirected to a non-HTTP URL (${next.protocol}); redirects are followed only to http: and https:`);
  }
  let { method, headers, body } = hop;
  // Step 13: credentials meant for one origin are not sent to another.
  if (next.origin !== new URL(hop.url).origin) headers = without(headers, CREDENTIALS);
  // Step 12: 303 (and 301/302 after POST) become GET.
  if (status === 303 ? method !== 'HEAD' : (status === 301 || status === 302) && method === 'POST') {
    method = 'GET';
    body = null;
    headers = without(headers, BODY_HEADERS);
  }
  return { url: next.href, method, headers, body };
}

/** A URL a subrequest may go to: http or https, and not a non-public address literal unless allowed. */
export function checkUrl(url: string, allowPrivate: boolean): void {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new EgressError(`fetch supports http: and https: URLs, not ${parsed.protocol}`);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && isIP(host) && isNonPublicAddress(host)) {
    throw new EgressError(`fetch to ${parsed.hostname} refused: not a public address`);
  }
}

/**
 * A response body read whole, at most `maxBytes`, each chunk taken from `held` first. `signal`
 * stops the read (the body is cancelled, what was taken given back): a body whose producer has
 * nothing more to send would otherwise be waited on, and held, after its caller gave up.
 */
export async function readBody(
  res: { body: AsyncIterable<Uint8Array> & { cancel(): Promise<void> } | null; headers: { get(name: string): string | null } },
  maxBytes: number,
  url: string,
  held: ResponseBytes | undefined,
  signal?: AbortSignal,
): Promise<ArrayBuffer | null> {
  if (res.body === null) return null;
  if (Number(res.headers.get('content-length')) > maxBytes || signal?.aborted) {
    await res.body.cancel();
    throw new EgressError(signal?.aborted ? `fetch to ${url} was aborted` : `response from ${url} is larger than ${maxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  // Bytes held so far, each taken from `held` before it is kept.
  let size = 0;
  const chunksOf = res.body[Symbol.asyncIterator]();
  let stop: (() => void) | undefined;
  const stopped = signal && new Promise<'aborted'>((resolve) => {
    stop = () => resolve('aborted');
    signal.addEventListener('abort', stop, { once: true });
  });
  try {
    for (;;) {
      const next = stopped ? await Promise.race([chunksOf.next(), stopped]) : await chunksOf.next();
      if (next === 'aborted') throw new EgressError(`fetch to ${url} was aborted`);
      if (next.done) break;
      const chunk = next.value;
      if (size + chunk.byteLength > maxBytes) throw new EgressError(`response from ${url} is larger than ${maxBytes} bytes`);
      if (held && !held.take(chunk.byteLength)) {
        throw new EgressError(`response from ${url} refused: the responses of this function's pending subrequests would hold more than ${held.limit} bytes`);
      }
      size += chunk.byteLength;
      chunks.push(chunk);
    }
  } catch (err) {
    held?.release(size);
    // Cancels the body: its producer stops, and nothing more is read.
    void chunksOf.return?.().catch(() => {});
    throw err;
  } finally {
    if (stop) signal!.removeEventListener('abort', stop);
  }
  return joinBytes(chunks, size).buffer;
}

export function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

// A method as islet sends it: the ones workerd knows upper-cased, others as written.
export { normalizedMethod };
const BODY_HEADERS = /^content-(type|length|encoding|language|location)$/i;
// Fetch names Authorization; undici's own redirects drop these three, and islet's do too.
const CREDENTIALS = /^(authorization|proxy-authorization|cookie)$/i;
// Connection-level fields (RFC 9110 §7.6.1) describe the tenant's own connection, not the
// subrequest's: a proxy forwarding its incoming request's headers would have undici refuse the
// call (transfer-encoding, expect, upgrade, keep-alive). workerd drops them too.
const HOP_BY_HOP = /^(connection|keep-alive|proxy-connection|transfer-encoding|te|trailer|upgrade|expect)$/i;

export function withoutHopByHop(flat: string[]): string[] {
  return without(flat, HOP_BY_HOP);
}

/** `flat` without the fields whose names match `names`. */
export function without(flat: string[], names: RegExp): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    if (!names.test(flat[i]!)) out.push(flat[i]!, flat[i + 1]!);
  }
  return out;
}

export function toEgressError(err: unknown, url: string, timeoutMs: number): EgressError {
  if (err instanceof EgressError) return err;
  const e = err as Error & { cause?: unknown };
  if (e?.name === 'TimeoutError') return new EgressError(`fetch to ${url} timed out after ${timeoutMs} ms`);
  const cause = e?.cause;
  if (cause instanceof EgressError) return cause;
  const detail = cause instanceof Error ? cause.message : e?.message ?? String(err);
  return new EgressError(`fetch to ${url} failed: ${detail}`);
}
