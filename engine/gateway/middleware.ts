// `islet()`: Hono middleware that hands a request to a deployed function. The gateway uses it
// for host-routed traffic, and users mount it in their own Hono apps as an edge gateway.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import type { Engine } from '../engine.ts';
import { BodyTooLargeError, NoSuchFunctionError } from '../errors.ts';
import { ASCII_REASON, flatHeaders, getsInventedType, headAnswer, INVENTED_TYPE, responseFromWire, wireFromRequest, type WireRequest } from '../wire.ts';
import { checkOneHost, wireFromIncoming } from './node-wire.ts';
import { answerWithSocket, refuseUpgrade } from './websocket.ts';

export interface IsletMiddlewareOptions {
  /**
   * Which function serves the request: a name, or a function of the context. Returning
   * undefined passes the request on to the next handler.
   */
  function: string | ((c: Context) => string | undefined);
  /** When the chosen function is not deployed: answer 404 (default) or pass to `next()`. */
  fallthrough?: boolean;
  /**
   * Behind a proxy that terminates TLS: the URL the function sees takes its scheme from the
   * request's X-Forwarded-Proto (the first, the client's), as it does on Workers, which always see
   * https. Only with a proxy in front that sets it: a client could send its own.
   */
  trustProxy?: boolean;
}


export function islet(engine: Engine, options: IsletMiddlewareOptions): MiddlewareHandler {
  const pick = typeof options.function === 'string' ? () => options.function as string : options.function;
  return async (c, next) => {
    const name = pick(c);
    if (name === undefined || (options.fallthrough && !engine.has(name))) return next();
    try {
      // On @hono/node-server the Node request and response are at hand: no Web Request needs building.
      const node = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
      const incoming = node?.incoming;
      const wire = await toWire(c, engine, name, incoming);
      // @hono/node-server aborts it when the connection closes before the response went out whole.
      if (incoming) wire.signal = c.req.raw.signal;
      if (options.trustProxy) wire.url = withForwardedScheme(wire.url, incoming ? incoming.headers['x-forwarded-proto'] : c.req.header('x-forwarded-proto'));
      const answer = await engine.invoke(name, wire);
      if (answer.webSocket) return await answerWithSocket(c, name, answer as typeof answer & { webSocket: NonNullable<typeof answer.webSocket> });
      // An upgrade the function refused: @hono/node-server would send its status without its body.
      if (incoming && node.outgoing === undefined && await refuseUpgrade(c, answer)) return new Response(null, { status: answer.status });
      if (wire.method === 'HEAD') headAnswer(answer);
      if (answer.body instanceof ReadableStream && incoming?.socket) answer.body = cutOnFailure(answer.body, incoming.socket);
      const response = responseFromWire(answer);
      if (node?.outgoing && getsInventedType(response)) {
        // Unless middleware after this one gave the response a type of its own.
        leaveUntyped(node.outgoing, () => !c.finalized || !c.res.headers.has('content-type'));
      }
      // @hono/node-server writes the status line from the status alone; Node takes the reason
      // phrase set on the outgoing response, so a tenant's own statusText reaches the client.
      // ASCII only: Node writes the head in the body's encoding, so obs-text would reach the client
      // as UTF-8 or Latin-1 depending on the body; without it the code's default phrase goes out.
      if (answer.statusText !== undefined && node?.outgoing && ASCII_REASON.test(answer.statusText)) {
        // Hono keeps a handler's response in c.res only when middleware wraps it (copying its
        // statusText); otherwise it sends it as it is, and c.res is never set (not finalized).
        const reason = answer.statusText;
        sendReasonPhrase(node.outgoing, reason, () => !c.finalized || c.res.statusText === reason);
      }
      return response;
    } catch (err) {
      return engine.errorResponse(err, name);
    }
  };
}

/** Has `outgoing` go without the Content-Type @hono/node-server gives it, if `stillUntyped()` when the head goes out. */
function leaveUntyped(outgoing: ServerResponse, stillUntyped: () => boolean): void {
  beforeHead(outgoing, (_res, headers) => {
    // A record of @hono/node-server's own making, given as writeHead(status, headers).
    if (headers && typeof headers === 'object' && !Array.isArray(headers) && (headers as Record<string, unknown>)['content-type'] === INVENTED_TYPE && stillUntyped()) {
      delete (headers as Record<string, unknown>)['content-type'];
    }
  });
}

/**
 * Has `outgoing` send `reason` as its status line's phrase, if `stillOurs()` when the head goes out:
 * middleware after this one may have put another response in its place (a 403 of its own), which
 * must not go out with the tenant's phrase.
 */
function sendReasonPhrase(outgoing: ServerResponse, reason: string, stillOurs: () => boolean): void {
  beforeHead(outgoing, (res) => {
    if (stillOurs()) res.statusMessage = reason;
  });
}

/** Runs `act` once, as `outgoing`'s head is written, with the headers writeHead was given last. */
function beforeHead(outgoing: ServerResponse, act: (res: ServerResponse, headers: unknown) => void): void {
  const writeHead = outgoing.writeHead;
  outgoing.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
    outgoing.writeHead = writeHead;
    act(this, args[args.length - 1]);
    return writeHead.apply(this, args);
  } as ServerResponse['writeHead'];
}

/**
 * `url` with the scheme X-Forwarded-Proto names, when it names http or https, serialized as the
 * URL standard does (the protocol setter drops a port that is the new scheme's default).
 */
function withForwardedScheme(url: string, forwarded: string | string[] | undefined): string {
  const scheme = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  if ((scheme !== 'https' && scheme !== 'http') || url.startsWith(`${scheme}:`)) return url;
  const parsed = new URL(url);
  parsed.protocol = `${scheme}:`;
  return parsed.href;
}

/**
 * A streamed body that, should it fail midway, cuts the connection: the client must not take a
 * truncated body for a whole one, and the sandbox has logged why. Failing the stream instead
 * would have @hono/node-server print the error raw to the console, and the error carries text
 * from the tenant (it could forge log lines).
 */
function cutOnFailure(body: ReadableStream<Uint8Array>, socket: Socket): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch {
        // The socket's close cancels this stream; its reader then ends quietly.
        socket.destroy();
      }
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

function toWire(c: Context, engine: Engine, name: string, incoming: IncomingMessage | undefined): WireRequest | Promise<WireRequest> {
  const limits = engine.limitsOf(name);
  if (!limits) {
    engine.metrics.unrouted.inc();
    throw new NoSuchFunctionError(name);
  }
  if (incoming) {
    // The fast path: a request nothing before this middleware touched goes from Node's parsed head
    // and the socket, without a Web Request being built.
    if (untouched(c.req.raw, incoming)) return wireFromIncoming(incoming, name, limits.maxBodyBytes, limits.wallMs);
    // Either way the function is chosen by one Host and must not see another (RFC 9112 §3.2).
    checkOneHost(incoming.rawHeaders);
  }
  // Otherwise the request as the app left it: middleware before this one may have changed its
  // headers or URL (an auth layer taking a credential out), replaced it (Hono's bodyLimit does),
  // or read its body (then kept in Hono's cache, no longer on the socket).
  return wireFromApp(c, name, limits.maxBodyBytes, limits.wallMs);
}

/** Own fields of a request @hono/node-server has just made: its IncomingMessage, method and URL. */
const FRESH_NODE_REQUEST_FIELDS = 3;

/**
 * True while `raw` is the request @hono/node-server made for `incoming`, as it made it, and the
 * socket's body is unread. Its headers, body and signal are made on first read, as symbol-keyed
 * fields of its own: one more field means someone read (and may have changed) them. Anything
 * else, an HTTP/2 request, or an @hono/node-server that builds its requests otherwise, takes the
 * path through the Web Request, which is always right.
 */
function untouched(raw: Request, incoming: IncomingMessage): boolean {
  return incoming.httpVersionMajor === 1 && incoming.readableFlowing === null && !incoming.readableDidRead && !incoming.readableEnded
    && Object.getPrototypeOf(Object.getPrototypeOf(raw)) === globalThis.Request.prototype
    && Object.getOwnPropertySymbols(raw).length === FRESH_NODE_REQUEST_FIELDS;
}

async function wireFromApp(c: Context, name: string, maxBodyBytes: number, bodyWithinMs: number): Promise<WireRequest> {
  const raw = c.req.raw;
  if (!raw.bodyUsed) return wireFromRequest(raw, name, maxBodyBytes, bodyWithinMs);
  // Read through Hono (c.req.json(), a validator): the bytes are in its cache.
  const body = await c.req.arrayBuffer();
  if (body.byteLength > maxBodyBytes) throw new BodyTooLargeError(name, maxBodyBytes);
  return { method: raw.method, url: raw.url, headers: flatHeaders(raw.headers), body: raw.method === 'GET' || raw.method === 'HEAD' ? null : body };
}
