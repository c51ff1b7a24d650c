// WebSockets opened by tenant code (a fetch() with `Upgrade: websocket`, or `new WebSocket(url)`),
// connected by the host with `ws` under the function's egress policy: the same address checks as
// its subrequests, at connect time. A server that answers the handshake with anything but 101 gets
// that answer handed back as an ordinary response, as Workers do. Once open, the socket is the
// sandbox's to carry (engine/tiers/socket-link.ts), as the gateway's client sockets are.
import { WebSocket } from 'ws';
import type { LookupFunction } from 'node:net';
import type { ClientSocket } from '../wire.ts';
import { clientSocketOf, MAX_SOCKET_MESSAGE_BYTES } from '../tiers/socket-link.ts';
import { EgressError, checkUrl, egressLookup, readBody, toEgressError, without, type EgressOptions, type OutboundResponse, type ResponseBytes } from './outbound-fetch.ts';

export interface OutboundSocketRequest {
  /** http: or https: (ws: and wss: are taken as those). */
  url: string;
  headers: string[];
}

/** Where an open socket's messages and close go, once the sandbox has linked it. */
export interface OutboundSocketSink {
  message(data: string | ArrayBuffer): void;
  closed(code: number, reason: string): void;
}

/** An open outbound WebSocket: the sandbox's link writes to it as to a client, and attaches its sink. */
export interface OutboundSocket extends ClientSocket {
  /** Messages (and a close) that came before go to `sink` now, the rest as they come. */
  attach(sink: OutboundSocketSink): void;
  /** Nobody will take it (its sandbox went, or its id was refused): the connection is cut, what comes dropped. */
  discard(): void;
  /** `then` runs when the connection has closed, attached or not. */
  onClosed(then: () => void): void;
}

/** The handshake's answer: `socket` when the server upgraded (status 101), else its response. */
export interface OutboundSocketResult {
  response: OutboundResponse;
  socket?: OutboundSocket;
}

export type ConnectOutboundSocket = (request: OutboundSocketRequest, signal?: AbortSignal, held?: ResponseBytes) => Promise<OutboundSocketResult>;

/**
 * How long a close waits for the server's close frame before the connection is cut. ws waits 30 s,
 * and a server that reads nothing keeps the close frame (and the unsent bytes before it) that long.
 */
const CLOSE_WAIT_MS = 2_000;
/**
 * Messages held for a socket not attached yet (the function has not accepted it, or is handing it
 * to a client); past it the connection is cut. Reading on, rather than pausing, lets a server's
 * close be seen (and the socket's place given back) even if the function never takes it.
 */
const MAX_EARLY_BYTES = 4 * 1024 * 1024;

// The handshake's own fields are ws's to write; connection-level ones are the tenant's connection's.
const NOT_FORWARDED = /^(connection|keep-alive|proxy-connection|transfer-encoding|te|trailer|upgrade|expect|host|sec-websocket-(key|version|extensions|accept|protocol))$/i;

export function createOutboundSocket(options: EgressOptions & { lookup?: LookupFunction } = {}): ConnectOutboundSocket {
  const allowPrivate = options.allowPrivate ?? false;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxBytes = options.maxResponseBytes ?? 32 * 1024 * 1024;
  const lookup = options.lookup ?? egressLookup(allowPrivate);

  return (request, cancel, held) => new Promise<OutboundSocketResult>((resolve, reject) => {
    const url = request.url.replace(/^ws(s?):/i, 'http$1:');
    try {
      checkUrl(url, allowPrivate);
    } catch (err) {
      return reject(err);
    }
    const protocols: string[] = [];
    for (let i = 0; i < request.headers.length; i += 2) {
      if (request.headers[i]!.toLowerCase() === 'sec-websocket-protocol') protocols.push(...request.headers[i + 1]!.split(',').map((p) => p.trim()).filter(Boolean));
    }
    const headers: Record<string, string> = {};
    const forwarded = without(request.headers, NOT_FORWARDED);
    for (let i = 0; i < forwarded.length; i += 2) {
      const name = forwarded[i]!.toLowerCase();
      headers[name] = name in headers ? `${headers[name]}, ${forwarded[i + 1]}` : forwarded[i + 1]!;
    }
    let settled = false;
    let ws: WebSocket;
    /** A non-101 answer being read, cut if the handshake fails meanwhile. */
    let answer: { destroy(): void } | undefined;
    try {
      ws = new WebSocket(url, protocols, {
        headers,
        lookup,
        maxPayload: MAX_SOCKET_MESSAGE_BYTES,
        // Compression costs the host CPU per message that no tenant's limit sees; Workers offer none either.
        perMessageDeflate: false,
        followRedirects: false,
      } as ConstructorParameters<typeof WebSocket>[2]);
    } catch (err) {
      return reject(toEgressError(err, request.url, timeoutMs));
    }
    const settle = () => {
      settled = true;
      clearTimeout(timer);
      cancel?.removeEventListener('abort', onCancel);
    };
    const fail = (err: unknown) => {
      if (settled) return;
      settle();
      answer?.destroy();
      ws.terminate();
      reject(cancel?.aborted ? new EgressError(`fetch to ${request.url} was aborted`) : toEgressError(err, request.url, timeoutMs));
    };
    // The whole handshake, a non-101 answer's body included, as a subrequest's whole exchange is
    // (not ws's handshakeTimeout: an idle timeout, which a server sending a byte a second never trips).
    const timer = setTimeout(() => fail(new DOMException('timed out', 'TimeoutError')), timeoutMs);
    const onCancel = () => fail(cancel!.reason);
    if (cancel?.aborted) return onCancel();
    cancel?.addEventListener('abort', onCancel, { once: true });

    // What comes before the sandbox attaches (a server may speak first, in the 101's own segment).
    let sink: OutboundSocketSink | undefined;
    const early: (() => void)[] = [];
    let earlyBytes = 0;
    const toSink = (event: (to: OutboundSocketSink) => void, bytes = 0) => {
      if (sink) return event(sink);
      earlyBytes += bytes;
      if (earlyBytes > MAX_EARLY_BYTES) return ws.terminate();
      early.push(() => event(sink!));
    };
    let upgrade: { statusText: string; headers: string[] } | undefined;
    ws.on('upgrade', (res) => {
      upgrade = { statusText: res.statusMessage ?? '', headers: lowerCaseNames(res.rawHeaders) };
    });
    ws.on('message', (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      const message = isBinary ? bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer : bytes.toString('utf8');
      toSink((to) => to.message(message), bytes.byteLength);
    });
    let closeWait: NodeJS.Timeout | undefined;
    const whenClosed: (() => void)[] = [];
    ws.on('close', (code, reason) => {
      clearTimeout(closeWait);
      if (!settled) return fail(new Error('the connection closed during the handshake'));
      for (const then of whenClosed.splice(0)) then();
      toSink((to) => to.closed(code, reason.toString('utf8')));
    });
    ws.on('error', (err) => fail(err));
    ws.on('unexpected-response', (req, res) => {
      // The server did not upgrade: its answer is the response, read as a subrequest's is.
      const flat = lowerCaseNames(res.rawHeaders);
      answer = res;
      const reading = {
        body: { [Symbol.asyncIterator]: () => res[Symbol.asyncIterator](), cancel: async () => void res.destroy() },
        headers: { get: (name: string) => (res.headers[name] as string | undefined) ?? null },
      };
      readBody(reading, maxBytes, request.url, held).then((bytes) => {
        if (settled) return held?.release(bytes?.byteLength ?? 0);
        settle();
        req.destroy();
        resolve({ response: { status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: flat, body: bytes, urls: [request.url] } });
      }, fail);
    });
    ws.on('open', () => {
      if (settled) return ws.terminate();
      settle();
      const client = clientSocketOf(ws);
      const socket: OutboundSocket = {
        send: client.send,
        close: (code, reason) => {
          client.close(code, reason);
          closeWait ??= setTimeout(() => ws.terminate(), CLOSE_WAIT_MS).unref();
        },
        pause: client.pause,
        resume: client.resume,
        get buffered() {
          return client.buffered;
        },
        attach: (to) => {
          sink = to;
          for (const event of early.splice(0)) event();
        },
        discard: () => {
          socket.attach({ message: () => {}, closed: () => {} });
          ws.terminate();
        },
        onClosed: (then) => {
          if (ws.readyState === WebSocket.CLOSED) then();
          else whenClosed.push(then);
        },
      };
      resolve({ response: { status: 101, statusText: upgrade?.statusText ?? 'Switching Protocols', headers: upgrade?.headers ?? [], body: null, urls: [request.url] }, socket });
    });
  });
}

/** Node's rawHeaders with lower-case names, as the wire carries them (undici's headers come so). */
function lowerCaseNames(raw: string[]): string[] {
  const flat: string[] = [];
  for (let i = 0; i < raw.length; i += 2) flat.push(raw[i]!.toLowerCase(), raw[i + 1]!);
  return flat;
}
