// Puts a gateway on a TCP port (or a Unix socket, for an engine behind the supervisor) with
// @hono/node-server.
import type { IncomingMessage, Server, ServerOptions } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer, ServerResponse } from 'node:http';
import { createAdaptorServer, getRequestListener, RequestError, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import { BadRequestError, ConfigError, errorAnswer } from '../errors.ts';
import type { WebSocketServer } from 'ws';
import { isletWebSocketServer } from './websocket.ts';

export interface ServedGateway {
  url: string;
  port: number;
  server: ServerType;
  /** Its WebSocket server: 'connection' (ws, request) for each upgrade it completed. */
  webSockets: WebSocketServer;
  /**
   * Stops accepting connections, lets requests in flight finish (closing idle keep-alive
   * connections at once, and asking WebSocket clients to go), and cuts whatever is left after
   * `graceMs` (default 10 s).
   */
  close(graceMs?: number): Promise<void>;
}

export type ListenOptions = { port: number; host: string } | { path: string };

export function serveGateway(app: Hono, options: ListenOptions): Promise<ServedGateway> {
  return new Promise((resolve, reject) => {
    // With a WebSocket server, upgrade requests reach the app too (gateway/websocket.ts).
    const webSockets = isletWebSocketServer();
    const server = createAdaptorServer({
      fetch: app.fetch,
      websocket: { server: webSockets },
      // Only WebSocket upgrades take the upgrade path. Any other (h2c, which `curl --http2` asks
      // for; a made-up one) is served as the plain request it also is, as RFC 9110 §7.8 lets a
      // server do: @hono/node-server's upgrade listener ignores them, and they hung unanswered
      // with their sockets held for ever.
      serverOptions: { shouldUpgradeCallback: isWebSocketUpgrade },
      // The listener createAdaptorServer would make, with an error handler: without one, a request
      // whose Host or target @hono/node-server cannot make a URL of ("Host: a b", "GET x") got a
      // bare 400 with no body, the only refusal without islet's error shape.
      createServer: ((options: ServerOptions) => createServer({ ...options, ServerResponse: LatinHeadResponse }, getRequestListener(app.fetch, { errorHandler: unreadableRequest }))) as typeof createServer,
    });
    server.on('connect', refuseConnect);
    server.on('clientError', refuseUnparsable);
    server.on('checkContinue', continueWhenRead);
    const onListening = () => {
      // A Unix socket has no port; its clients name the path themselves.
      const info = server.address() as AddressInfo | string;
      const tcp = typeof info === 'string' ? undefined : info;
      const host = tcp?.family === 'IPv6' ? `[${tcp.address}]` : tcp?.address ?? 'localhost';
      resolve({
        url: tcp ? `http://${host}:${tcp.port}` : 'http://localhost',
        port: tcp?.port ?? 0,
        server,
        webSockets,
        close: (graceMs = 10_000) => new Promise<void>((done) => {
          const http = server as { closeIdleConnections?: () => void; closeAllConnections?: () => void };
          // Open WebSockets are asked to go (1001) at once: they could last for ever, and the
          // server's close waits for every connection. Whatever is left is cut after the grace.
          for (const ws of webSockets.clients) ws.close(1001, 'the server is shutting down');
          const cut = setTimeout(() => {
            http.closeAllConnections?.();
            for (const ws of webSockets.clients) ws.terminate();
          }, graceMs);
          server.close(() => {
            clearTimeout(cut);
            done();
          });
          http.closeIdleConnections?.();
        }),
      });
    };
    if ('path' in options) server.listen(options.path, onListening);
    else server.listen(options.port, options.host, onListening);
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, 'path' in options ? options.path : `${options.host}:${options.port}`)));
  });
}

/**
 * A ServerResponse whose head always goes out in Latin-1, header values being bytes one a
 * character (as Node and undici have them): Node's flushHeaders() — which @hono/node-server calls
 * before a streamed body — writes it in the default encoding, UTF-8, so a value with `é` (E9)
 * reached the client as C3 A9 when the body was a stream and as E9 when it was not. Writing an
 * empty chunk sends the head as any other first chunk does.
 */
class LatinHeadResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  override flushHeaders(): void {
    // (headersSent is true from writeHead on, before a byte has gone: it cannot tell.)
    if (this.writableEnded) return;
    this.write(NO_BYTES);
    // write() corks the socket until the next tick; a flush is for now (a body that fails at once
    // must still find the head sent, or the client sees no status at all).
    this.socket?.uncork();
  }
}
const NO_BYTES = new Uint8Array(0);

/** What a request gets when @hono/node-server could not make a Request of it (or the app threw). */
function unreadableRequest(err: unknown): Response {
  const refused = err instanceof RequestError
    ? new BadRequestError(`the request's Host and target do not form a valid URL (${err.message})`)
    : err;
  const { status, headers, body } = errorAnswer(refused, undefined, false);
  return new Response(body, { status, headers });
}

/**
 * `Expect: 100-continue` is answered `100 Continue` only once something reads the body, where Node
 * would send it at once: a body the gateway refuses unread (declared past the function's
 * maxBodyBytes, or no such function) or a function that never reads it is not invited, and the
 * final answer goes instead, as RFC 9110 §10.1.1 has it, closing the connection (the client may
 * not have sent the body it announced, so the next bytes could be either).
 */
export function continueWhenRead(this: Server, req: IncomingMessage, res: ServerResponse): void {
  // No body to ask for (a GET or HEAD with Expect): answered as Node does by default, with the
  // 100 first; Node closes a connection whose 100-continue request got its answer without one.
  if (!hasBody(req)) {
    res.writeContinue();
    this.emit('request', req, res);
    return;
  }
  const keepAlive = res.shouldKeepAlive;
  res.shouldKeepAlive = false;
  const read = req._read;
  req._read = function (this: IncomingMessage, size: number) {
    req._read = read;
    // After the answer's head, Node drains what is left: the client must not be invited then.
    if (!res.headersSent) {
      res.shouldKeepAlive = keepAlive;
      res.writeContinue();
    }
    return read.call(this, size);
  };
  this.emit('request', req, res);
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Node's own test for an Expect that asks for 100 Continue (it also answers `100-continue, x`). */
export const EXPECTS_CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

/**
 * True for a request that asks to upgrade to a WebSocket: its Upgrade is `websocket` alone, which
 * is what @hono/node-server's upgrade listener and ws's handshake both take.
 */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return req.headers.upgrade?.toLowerCase() === 'websocket';
}

/**
 * CONNECT asks for a tunnel, which no function serves: answered 501, where Node, with no listener
 * for it, would close the connection without a word.
 */
export function refuseConnect(_req: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => {});
  socket.end(rawRefusal(501, 'Not Implemented', 'not-implemented', 'CONNECT is not served here'));
}

/**
 * A request Node's parser refused before any handler saw it (not HTTP/1.1, a target or header it
 * cannot read, headers past its limit, too slow): answered as Node would (400, 431 or 408, then
 * closed), in islet's error shape rather than a bare status line.
 */
export function refuseUnparsable(err: NodeJS.ErrnoException, socket: Duplex): void {
  socket.on('error', () => {});
  // Something was already written (a response under way), or the peer is gone: only cut it.
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as Socket).bytesWritten > 0) {
    socket.destroy();
    return;
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') socket.end(rawRefusal(431, 'Request Header Fields Too Large', 'headers-too-large', 'the request\'s headers are past the server\'s limit'));
  else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') socket.end(rawRefusal(408, 'Request Timeout', 'request-timeout', 'the request did not arrive in time'));
  else socket.end(rawRefusal(400, 'Bad Request', 'bad-request', `the request is not HTTP/1.1 that the server can read (${err.code ?? 'unreadable'})`));
}

/** An answer written straight to a socket, closing it: `{"error", "message"}` with `islet-error`. */
function rawRefusal(status: number, reason: string, code: string, message: string): string {
  const body = JSON.stringify({ error: code.replaceAll('-', '_'), function: null, message });
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\nislet-error: ${code}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/** A failure to listen, as the operator should read it (ConfigError for the usual causes). */
export function listenError(err: NodeJS.ErrnoException, where: string): Error {
  if (err.code === 'EADDRINUSE') return new ConfigError(`cannot listen on ${where}: the address is already in use (try another --port)`);
  if (err.code === 'EACCES') return new ConfigError(`cannot listen on ${where}: permission denied`);
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') return new ConfigError(`cannot listen on ${where}: no such local address`);
  return err;
}
