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
}

/** The handshake's answer: `socket` when the server upgraded (status 101), else its response. */
export interface OutboundSocketResult {
  response: OutboundResponse;
  socket?: OutboundSocket;
}

export type ConnectOutboundSocket = (request: OutboundSocketRequest, signal?: AbortSignal, held?: ResponseBytes) => Promise<OutboundSocketResult>;

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
    try {
      ws = new WebSocket(url, protocols, {
        headers,
        lookup,
        handshakeTimeout: timeoutMs,
        maxPayload: MAX_SOCKET_MESSAGE_BYTES,
        // Compression costs the host CPU per message that no tenant's limit sees; Workers offer none either.
        perMessageDeflate: false,
        followRedirects: false,
      } as ConstructorParameters<typeof WebSocket>[2]);
    } catch (err) {
      return reject(toEgressError(err, request.url, timeoutMs));
    }
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      cancel?.removeEventListener('abort', onCancel);
      ws.terminate();
      reject(cancel?.aborted ? new EgressError(`fetch to ${request.url} was aborted`) : toEgressError(err, request.url, timeoutMs));
    };
    const onCancel = () => fail(cancel!.reason);
    if (cancel?.aborted) return onCancel();
    cancel?.addEventListener('abort', onCancel, { once: true });

    // What comes before the sandbox attaches (a server may speak first, in the 101's own segment).
    let sink: OutboundSocketSink | undefined;
    const early: (() => void)[] = [];
    const toSink = (event: (to: OutboundSocketSink) => void) => (sink ? event(sink) : early.push(() => event(sink!)));
    let upgrade: { statusText: string; headers: string[] } | undefined;
    ws.on('upgrade', (res) => {
      const flat: string[] = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) flat.push(res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!);
      upgrade = { statusText: res.statusMessage ?? '', headers: flat };
    });
    ws.on('message', (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      const message = isBinary ? bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer : bytes.toString('utf8');
      toSink((to) => to.message(message));
    });
    ws.on('close', (code, reason) => {
      if (!settled) return fail(new Error('the connection closed during the handshake'));
      toSink((to) => to.closed(code, reason.toString('utf8')));
    });
    ws.on('error', (err) => fail(err));
    ws.on('unexpected-response', (req, res) => {
      // The server did not upgrade: its answer is the response, read as a subrequest's is.
      const flat: string[] = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) flat.push(res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!);
      const answer = {
        body: { [Symbol.asyncIterator]: () => res[Symbol.asyncIterator](), cancel: async () => void res.destroy() },
        headers: { get: (name: string) => (res.headers[name] as string | undefined) ?? null },
      };
      readBody(answer, maxBytes, request.url, held).then((bytes) => {
        if (settled) return held?.release(bytes?.byteLength ?? 0);
        settled = true;
        cancel?.removeEventListener('abort', onCancel);
        req.destroy();
        resolve({ response: { status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: flat, body: bytes, urls: [request.url] } });
      }, fail);
    });
    ws.on('open', () => {
      if (settled) return ws.terminate();
      settled = true;
      cancel?.removeEventListener('abort', onCancel);
      const socket: OutboundSocket = Object.assign(clientSocketOf(ws), {
        attach: (to: OutboundSocketSink) => {
          sink = to;
          for (const event of early.splice(0)) event();
        },
      });
      resolve({ response: { status: 101, statusText: upgrade?.statusText ?? 'Switching Protocols', headers: upgrade?.headers ?? [], body: null, urls: [request.url] }, socket });
    });
  });
}
