// fetch() for tenant code: the request is built and validated here with the runtime's own Request,
// sent to the host as plain data, and answered through settleFetch when the host is done. The
// host decides what may be reached (engine/egress/).
import { checkHeadSize, headersToFlat, Request, requestSignalSource, responseFromNetwork, type AbortSignal, type Response } from '../web/index.ts';
import { processDataUrl } from '../fetch/data-url.ts';
import { byteLengthOf, checkedArrayBuffer } from '../web/plain-bytes.ts';
import { bytesToHostRefusal } from './bytes-to-host.ts';
import { host } from './host-calls.ts';
import { PendingCalls } from './pending-calls.ts';
import { chainDepth } from '../dispatch/chain-depth.ts';
import { asksForWebSocket, type WebSockets } from './websocket-api.ts';

const pending = new PendingCalls<Response>();

// A bound on subrequests waiting at once per isolate, so one tenant cannot queue unbounded work
// on the host.
const MAX_PENDING = 256;

// And on the bytes of their bodies, which the host holds until it settles each: counted with
// crypto.subtle's inputs against one bound (bytes-to-host.ts).
export function fetch(input: unknown, init?: unknown): Promise<Response> {
  return fetchThrough(null, input, init);
}

/**
 * fetch(), to the network (`service` null) or through the function's service binding `service`
 * (env.NAME.fetch, bindings/service.ts): the host then hands the request to the function bound.
 */
export async function fetchThrough(service: string | null, input: unknown, init?: unknown): Promise<Response> {
  const request = new Request(input as never, init as never);
  // Fetch §5.6 fetch() steps 2-4: the request's signal, which follows init.signal or the input
  // Request's. Its source aborts exactly when it does, and needs no dependent signal made.
  const signal = requestSignalSource(request);
  if (signal?.aborted) throw signal.reason;
  // Fetch would check the response against it; unchecked, it would promise what nobody verified.
  if (request.integrity !== '') throw new TypeError('fetch: integrity metadata is not checked here; the integrity option must be empty');
  // Each field read once, into values checked here and sent as they are: Request.prototype's
  // getters are the tenant's to replace, and one answered the check small and the host big.
  const method: unknown = request.method, url: unknown = request.url, redirect: unknown = request.redirect;
  if (typeof method !== 'string' || typeof url !== 'string') throw new TypeError('fetch: the request is not a Request');
  if (redirect !== 'follow' && redirect !== 'error' && redirect !== 'manual') throw new TypeError('fetch: the request is not a Request');
  // Fetch §4.2: a data: URL is answered here, from the URL itself: no subrequest, no host.
  if (service === null && url.startsWith('data:')) {
    const data = processDataUrl(url);
    if (data === null) throw new TypeError('fetch failed: the data: URL is invalid');
    const { body } = data;
    const bytes = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body.buffer as ArrayBuffer : body.slice().buffer;
    // Fetch §4.1 main fetch: a HEAD response's body is null.
    return responseFromNetwork(200, 'OK', ['content-type', data.mimeType], method === 'HEAD' ? null : bytes, [url]);
  }
  if (pending.size >= MAX_PENDING) throw new TypeError(`fetch: more than ${MAX_PENDING} subrequests are already pending`);
  const flat = checkHeadSize(headersToFlat(request.headers), url.length + method.length, 'fetch');
  // Workers: a fetch() asking to upgrade to a WebSocket answers with the socket to accept.
  if (asksForWebSocket(method, request.headers.get('upgrade'))) {
    if (service !== null) throw new TypeError(`${service}.fetch: WebSockets through a service binding are not supported`);
    return connectSocket(url, flat, signal ?? undefined);
  }
  // Request.prototype.arrayBuffer is the tenant's to replace: what it gives must be an ArrayBuffer.
  const body = method === 'GET' || method === 'HEAD' ? null : checkedArrayBuffer(await request.arrayBuffer(), 'fetch');
  const bytes = body === null ? 0 : byteLengthOf(body, 'fetch');
  const refused = bytesToHostRefusal(bytes, 'fetch');
  if (refused !== undefined) throw new TypeError(refused);
  // Fetch §4.1 "abort fetch": an abort rejects with the signal's reason and cancels the host's request.
  // The body is counted until the host settles this id (settleFetch), aborted or not: released
  // when the tenant's promise settled instead, aborts let a loop of 60 MB bodies past the bound.
  return pending.start(
    signal ?? undefined,
    (id) => host().startFetch(id, method, url, flat, body, redirect, service, chainDepth()),
    (id) => host().abortFetch(id),
    bytes,
  );
}

/** A fetch()'s outbound handshakes in flight, by subrequest id: the socket a 101 answer carries. */
const handshakes = new Map<number, unknown>();

/**
 * An outbound WebSocket's handshake, made by the host as a subrequest: a Response whose webSocket
 * is the socket (status 101) when the server upgraded, else the server's own answer. A
 * `new WebSocket(url)` brings its own socket (`ownId`), and its Response carries none.
 */
export function connectSocket(url: string, headers: string[], signal?: AbortSignal, ownId?: number): Promise<Response> {
  // Before the copy to the host, as for fetch(): a `new WebSocket(url, protocols)` comes here with
  // a URL and protocols of the tenant's, and the host's bound of 32 sockets came after each copy.
  if (typeof url !== 'string') throw new TypeError('WebSocket: the URL is not a string');
  headers = checkHeadSize(headers, url.length, 'WebSocket');
  if (ownId !== undefined) return pending.start(signal, (id) => host().wsConnect(id, ownId, url, headers), (id) => host().abortFetch(id));
  const sockets = outboundSockets();
  const [socket, socketId] = sockets.outbound();
  let fetchId = 0;
  const answer = pending.start(
    signal,
    (id) => {
      fetchId = id;
      handshakes.set(id, socket);
      host().wsConnect(id, socketId, url, headers);
    },
    (id) => host().abortFetch(id),
  );
  answer.then((response) => {
    if (response.webSocket === null) sockets.release(socketId);
  }, () => {
    handshakes.delete(fetchId);
    sockets.release(socketId);
  });
  return answer;
}

/**
 * Called by the host when subrequest `id` is done: with ok, the response's status, status text,
 * flat headers, body and URL list, and for an outbound WebSocket that upgraded its socket's id;
 * without, the reason it failed.
 */
export function settleFetch(id: number, ok: boolean, status: number, statusText: string, headers: string[], body: ArrayBuffer | null, urls: string[], socketId = 0): void {
  const socket = handshakes.get(id);
  handshakes.delete(id);
  const p = pending.take(id);
  if (!p) {
    // Aborted while the host was connecting it: the socket the host opened has no taker.
    if (socketId !== 0) host().wsClose(socketId, 1000, 'the WebSocket handshake was aborted');
    return;
  }
  if (!ok) {
    p.reject(new TypeError(statusText));
    return;
  }
  // A fetch()'s socket goes in its Response; a `new WebSocket`'s handshake has none (it is the socket).
  const webSocket = socketId !== 0 ? socket ?? null : null;
  p.resolve(responseFromNetwork(status, statusText, headers, body, urls, webSocket));
}

let outboundSockets: () => Pick<WebSockets, 'outbound' | 'release'> = () => {
  throw new TypeError('WebSockets are not available here');
};

/** How fetch() gets the runtime's WebSocket classes (made on first use, index.ts). */
export function setOutboundSockets(get: () => Pick<WebSockets, 'outbound' | 'release'>): void {
  outboundSockets = get;
}
