// WebSocket upgrades, on @hono/node-server's WebSocket support (the `ws` library underneath): the
// upgrade request goes to the function like any request; when the tenant answers 101 with a
// WebSocketPair end, Hono's upgradeWebSocket helper completes the handshake and the messages go
// between the client and the tenant's socket (its sandbox's TenantSocket). Any other answer is
// sent as the refusal of the upgrade.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { upgradeWebSocket } from '@hono/node-server';
import type { Context } from 'hono';
import { WebSocketServer, type WebSocket } from 'ws';
import { TenantExceptionError } from '../errors.ts';
import { ASCII_REASON, type TenantSocket, type WireResponse } from '../wire.ts';
// Workers' bound on one message; `ws` closes a connection whose client sends a bigger one (1009).
import { clientSocketOf, MAX_SOCKET_MESSAGE_BYTES } from '../tiers/socket-link.ts';


const HANDSHAKE_FIELDS = new Set(['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-extensions', 'sec-websocket-version']);

/** The subprotocol each tenant picked (its 101's Sec-WebSocket-Protocol), for the handshake. */
const pickedProtocol = new WeakMap<IncomingMessage, string>();

/** WebSocket servers made here: their handshakes pick the tenant's subprotocol and bound messages. */
const ours = new WeakSet<WebSocketServer>();

/**
 * The WebSocket server to give @hono/node-server (`createAdaptorServer({ fetch, websocket: {
 * server: isletWebSocketServer() } })`); serveGateway makes one itself. Handshakes only
 * (noServer), messages bounded to Workers' 1 MB as they arrive, the tenant's subprotocol chosen.
 * Routes of the app's own may use it too: a handshake islet did not answer picks no subprotocol.
 */
export function isletWebSocketServer(): WebSocketServer {
  const server = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_SOCKET_MESSAGE_BYTES,
    // Compression costs the host CPU per message that no tenant's limit sees; Workers offer none either.
    perMessageDeflate: false,
    handleProtocols: (offered, request) => {
      const picked = pickedProtocol.get(request);
      return picked !== undefined && offered.has(picked) ? picked : false;
    },
  });
  ours.add(server);
  return server;
}

/** The bytes of one message as ws handed it to Hono's helper. */
function messageBytes(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return data instanceof Blob ? data.size : 0;
}

/**
 * The response for a request whose answer carries a WebSocket: the handshake when the request is
 * an upgrade this server can complete, else a clear error (and the tenant's socket closes).
 */
export async function answerWithSocket(c: Context, name: string, answer: WireResponse & { webSocket: TenantSocket }): Promise<Response> {
  const socket = answer.webSocket;
  const node = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
  // @hono/node-server hands an upgrade to the app with the IncomingMessage and no ServerResponse.
  const upgrading = node?.incoming !== undefined && node.outgoing === undefined && c.req.header('upgrade')?.toLowerCase() === 'websocket';
  if (!upgrading) {
    socket.closed(1006, 'the request was not a WebSocket upgrade');
    const why = c.req.header('upgrade')?.toLowerCase() === 'websocket'
      ? 'the function answered with a WebSocket, but this server does not take WebSocket upgrades (serve it with serveGateway, or give @hono/node-server { websocket: { server: isletWebSocketServer() } })'
      : 'the function answered with a WebSocket a request without "Upgrade: websocket"';
    throw new TenantExceptionError(name, 'TypeError', why, '');
  }
  const headers = new Headers();
  for (let i = 0; i < answer.headers.length; i += 2) {
    const field = answer.headers[i]!;
    if (field === 'sec-websocket-protocol') pickedProtocol.set(node.incoming!, answer.headers[i + 1]!.split(',')[0]!.trim());
    // The handshake's own fields are ws's to write: a 101 the tenant passes on from its own
    // fetch() (proxying) carries the upstream's, which would go out twice and fail the handshake.
    else if (!HANDSHAKE_FIELDS.has(field)) headers.append(field, answer.headers[i + 1]!);
  }
  // A server of the app's own (`new WebSocketServer({ noServer: true })`) takes messages up to ws's
  // 100 MB and picks the first subprotocol offered: the bound is kept here instead, and a handshake
  // that settled on another subprotocol than the tenant's is closed rather than left to speak the
  // wrong one. A probe fed a tenant 90 MB messages through such an app.
  const foreign = !ours.has((c.env as { wss?: WebSocketServer }).wss as WebSocketServer);
  const picked = pickedProtocol.get(node.incoming!);
  // What islet's own server would have settled on: the tenant's pick, if the client offered it.
  const offered = (c.req.header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
  const expected = picked !== undefined && offered.includes(picked) ? picked : '';
  let opened = false;
  let refused = false;
  const upgrade = upgradeWebSocket(() => ({
    onOpen: (_event, ws) => {
      opened = true;
      const raw = ws.raw as WebSocket;
      socket.open(clientSocketOf(raw));
      if (foreign && picked !== undefined && raw.protocol !== expected) {
        refused = true;
        raw.close(1002, 'subprotocol mismatch: give the server isletWebSocketServer()');
      }
    },
    onMessage: (event, ws) => {
      if (refused) return;
      if (foreign && messageBytes(event.data) > MAX_SOCKET_MESSAGE_BYTES) {
        refused = true;
        (ws.raw as WebSocket).close(1009, 'message too big');
        return;
      }
      socket.message(event.data as string | ArrayBuffer);
    },
    onClose: (event) => socket.closed(event.code, event.reason),
    // An error is followed by the close: that one tells the tenant.
    onError: () => {},
  }));
  await upgrade(c, async () => {});
  // A client that left while the tenant was answering, or leaves during the handshake, never
  // opens: its tenant's socket closes (else it would hold the isolate for ever). It may have gone
  // already, its 'close' long past.
  const raw = node.incoming!.socket;
  const leftEarly = () => {
    if (!opened) socket.closed(1006, 'the client left during the handshake');
  };
  if (raw.destroyed) leftEarly();
  else raw.once('close', leftEarly);
  // The 101 carries the tenant's other headers (a Set-Cookie, say); the handshake's are ws's.
  return new Response(null, { headers });
}

/** The most of a refusal's body the gateway writes itself; a bigger one goes without its body, as before. */
const REFUSAL_BODY_BYTES = 64 * 1024;
// Framing is the gateway's to write; the rest of the tenant's headers go as they are.
const REFUSAL_SKIPPED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade']);

/**
 * A WebSocket upgrade the function answered with anything but a socket (a 401 with why, a 426):
 * sent whole, body included, and the connection closed. @hono/node-server's upgrade path writes
 * only the status and headers, with `Content-Length: 0`, which lost the body a client such as
 * ws's (its 'unexpected-response') can read. False when this one cannot be written here (a body
 * past 64 KB, or one the host would have to encode): the caller answers as before.
 */
export async function refuseUpgrade(c: Context, answer: WireResponse): Promise<boolean> {
  const node = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
  const socket = node?.incoming?.socket;
  if (!socket || node.outgoing !== undefined || socket.destroyed) return false;
  let body: Buffer;
  if (answer.body === null) body = Buffer.alloc(0);
  else if (typeof answer.body === 'string') body = Buffer.from(answer.body);
  else if (answer.body instanceof ArrayBuffer) body = Buffer.from(answer.body);
  else return false;
  if (body.length > REFUSAL_BODY_BYTES) return false;
  const reason = answer.statusText !== undefined && ASCII_REASON.test(answer.statusText) ? answer.statusText : STATUS_CODES[answer.status] ?? '';
  const lines = [`HTTP/1.1 ${answer.status} ${reason}`];
  for (let i = 0; i < answer.headers.length; i += 2) {
    const name = answer.headers[i]!;
    if (name === 'content-encoding' && !answer.encodedByTenant) return false;
    if (!REFUSAL_SKIPPED.has(name)) lines.push(`${name}: ${answer.headers[i + 1]!}`);
  }
  lines.push('connection: close', `content-length: ${body.length}`, '', '');
  // The function saw a GET (the upgrade path hands it one); the client asked HEAD: no body then.
  if (node!.incoming!.method === 'HEAD') body = Buffer.alloc(0);
  // Written and flushed before the upgrade listener looks again: it finds the socket destroyed
  // and writes nothing of its own.
  await new Promise<void>((resolve) => socket.end(Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), body]), resolve));
  socket.destroy();
  return true;
}
