// A WebSocket between a tenant and its client, on the sandbox's side: what the tenant sends before
// the gateway has finished the handshake waits here (bounded), then goes to the client; what the
// client sends goes to the tenant through `hooks`, and a client the tenant has fallen behind is
// not read until it catches up — per socket, and for all of a sandbox's sockets together
// (SocketInflow). Either side's close ends it once.
import type { ClientSocket, TenantSocket } from '../wire.ts';
import { EgressError, type OutboundResponse } from '../egress/outbound-fetch.ts';
import type { OutboundSocket, OutboundSocketResult } from '../egress/outbound-websocket.ts';
import type { WebSocket } from 'ws';

/** Workers' bound on one message, either way. */
export const MAX_SOCKET_MESSAGE_BYTES = 1024 * 1024;
/**
 * Outbound WebSockets one sandbox holds at once, open or connecting: each is a connection from the
 * host and a socket of its own, which the tenant could otherwise open without end.
 */
export const MAX_OUTBOUND_SOCKETS = 32;
/**
 * What the tenant sent on all of one sandbox's sockets that their peers have not taken; past it,
 * the socket sending closes (1008). MAX_OUTBOUND_BYTES bounds one socket, but 32 of the tenant's
 * own sockets to a server that never reads held 0.5 GB of the engine's memory.
 */
const MAX_SANDBOX_OUTBOUND_BYTES = 32 * 1024 * 1024;
/** Past this much unsent on one socket, a send adds up the sandbox's backlog (only sockets behind pay for it). */
const BACKLOG_CHECK_BYTES = 1024 * 1024;
/** What a client message on its way in costs besides its bytes (its place in the queue, closures). */
const INBOUND_OVERHEAD_BYTES = 256;
/** What the tenant may send before the handshake is done; past it the socket closes (1009). */
const MAX_EARLY_BYTES = 4 * 1024 * 1024;
/**
 * Client messages on their way into the sandbox, per socket; past it the client is not read until
 * the tenant has taken half of them (its messages wait in the kernel's buffers, then in the client's).
 */
const MAX_INBOUND_BYTES = 8 * 1024 * 1024;
/** The same for all of one sandbox's sockets together: many sockets could each queue their 8 MB. */
const MAX_SANDBOX_INBOUND_BYTES = 32 * 1024 * 1024;
/**
 * What the tenant sent that the client has not taken; past it the socket closes (1008). send() is
 * fire-and-forget on Workers too: a tenant writing faster than its client reads would otherwise
 * grow the engine's memory without bound.
 */
const MAX_OUTBOUND_BYTES = 16 * 1024 * 1024;

/** What the runtime is told of an outbound handshake: the server's answer (with the socket's id once upgraded and linked), or why it failed. */
export type HandshakeAnswer = { response: OutboundResponse; socketId?: number } | { error: string };

/** A `ws` socket (a client's, or one the tenant opened) as its link writes to it. */
export function clientSocketOf(ws: WebSocket): ClientSocket {
  return {
    send: (data) => ws.send(data),
    // 1005 is "no code given": ws sends a close frame without one when it gets none.
    close: (code, reason) => (code === 1005 ? ws.close() : ws.close(code, reason)),
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    get buffered() {
      return ws.bufferedAmount;
    },
  };
}

/** A first-in first-out queue whose take is O(1) (Array.shift copies the rest, every time). */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) this.clear();
    else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

/** One sandbox's client messages on their way in, all sockets together. */
export class SocketInflow {
  bytes = 0;
  /** Links whose clients are held because the sandbox as a whole is over its bound. */
  readonly held = new Set<SocketLink>();
}

export interface SocketLinkHooks {
  /** A client message for the tenant; `taken` once it has been handed in. */
  message(data: string | ArrayBuffer, taken: () => void): void;
  /** The connection is over (told once): tell the tenant, forget the link. */
  closed(code: number, reason: string): void;
}

export class SocketLink implements TenantSocket {
  readonly #hooks: SocketLinkHooks;
  readonly #inflow: SocketInflow;
  #client: ClientSocket | undefined;
  #early: (string | ArrayBuffer)[] = [];
  #earlyBytes = 0;
  /** The tenant's close, waiting for the handshake. */
  #closing: [number, string] | undefined;
  #ended = false;
  #inboundBytes = 0;
  /** Over its own bound, or held for the sandbox's: the client is paused while either holds. */
  #over = false;
  #held = false;
  #paused = false;

  constructor(inflow: SocketInflow, hooks: SocketLinkHooks) {
    this.#inflow = inflow;
    this.#hooks = hooks;
  }

  open(client: ClientSocket): void {
    if (this.#ended) {
      // The sandbox ended first (end() kept its code), or the connection did.
      client.close(...(this.#closing ?? [1001, 'the function went away']));
      return;
    }
    this.#client = client;
    for (const data of this.#early) client.send(data);
    this.#early = [];
    if (this.#closing) client.close(...this.#closing);
    this.#sync();
  }

  message(data: string | ArrayBuffer): void {
    if (this.#ended) return;
    const size = INBOUND_OVERHEAD_BYTES + (typeof data === 'string' ? data.length * 2 : data.byteLength);
    const inflow = this.#inflow;
    this.#inboundBytes += size;
    inflow.bytes += size;
    if (this.#inboundBytes > MAX_INBOUND_BYTES) this.#over = true;
    if (inflow.bytes > MAX_SANDBOX_INBOUND_BYTES) {
      this.#held = true;
      inflow.held.add(this);
    }
    this.#sync();
    this.#hooks.message(data, () => {
      this.#inboundBytes -= size;
      inflow.bytes -= size;
      if (this.#over && this.#inboundBytes <= MAX_INBOUND_BYTES / 2) {
        this.#over = false;
        this.#sync();
      }
      if (inflow.held.size > 0 && inflow.bytes <= MAX_SANDBOX_INBOUND_BYTES / 2) {
        for (const link of inflow.held) link.#release();
        inflow.held.clear();
      }
    });
  }

  #release(): void {
    this.#held = false;
    this.#sync();
  }

  /** Pauses or resumes the client to match what holds it. */
  #sync(): void {
    const pause = this.#over || this.#held;
    if (pause === this.#paused || !this.#client) return;
    this.#paused = pause;
    if (pause) this.#client.pause();
    else this.#client.resume();
  }

  /** Client messages handed to the sandbox and not yet taken in, in bytes. */
  get inboundBytes(): number {
    return this.#inboundBytes;
  }

  /** What the tenant sent that the peer has not taken yet (or that waits for the handshake), in bytes. */
  get backlog(): number {
    return this.#client ? this.#client.buffered : this.#earlyBytes;
  }

  closed(code: number, reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#inflow.held.delete(this);
    // Closed by the host for the tenant's own doing: that is what the tenant hears, whatever the
    // peer answered (a peer that reads nothing never answers, and the connection is cut: 1006).
    if (this.#refused) [code, reason] = this.#refused;
    this.#hooks.closed(code, reason);
  }

  /** Why the host closed this socket for what the tenant did (refuse()), if it did. */
  #refused: [number, string] | undefined;

  /** The host closes the socket because of what the tenant did; the tenant's close event says so. */
  refuse(code: number, reason: string): void {
    if (this.#ended || this.#closing) return;
    this.#refused = [code, reason];
    this.close(code, reason);
  }

  /** The tenant sends. */
  send(data: string | ArrayBuffer): void {
    if (this.#ended || this.#closing) return;
    if (this.#client) {
      if (this.#client.buffered > MAX_OUTBOUND_BYTES) return this.refuse(1008, 'the client is not reading what the function sends');
      return this.#client.send(data);
    }
    this.#earlyBytes += typeof data === 'string' ? data.length * 3 : data.byteLength;
    if (this.#earlyBytes > MAX_EARLY_BYTES) return this.refuse(1009, 'the function sent too much before the handshake was done');
    this.#early.push(data);
  }

  /** The tenant closes; the client's close frame (or the connection's end) then ends the link. */
  close(code: number, reason: string): void {
    if (this.#ended || this.#closing) return;
    this.#closing = [code, reason];
    this.#client?.close(code, reason);
  }

  /** The sandbox is gone: the client's connection closes with `code`, and nothing more is told. */
  end(code: number, reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#inflow.held.delete(this);
    if (this.#client) this.#client.close(code, reason);
    else this.#closing = [code, reason];
  }
}

// The runtimes' WebSocket event kinds (runtime-api/host/websocket-api.ts).
export const SOCKET_MESSAGE = 0;
export const SOCKET_CLOSE = 1;
export const SOCKET_LINKED = 2;

/** A WebSocket event on its way to the tenant; `taken` once handled (a client message's accounting). */
export interface SocketEvent {
  id: number;
  kind: number;
  data?: string | ArrayBuffer;
  code?: number;
  reason?: string;
  taken?: () => void;
}

/**
 * One sandbox's open WebSockets, for every tier: their links by the runtime's id, the events on
 * their way in — one in the sandbox at a time, in order, so that each can be a turn of its own
 * under cpuMs (a budget refilled as messages arrived let a client keep a spinning handler alive,
 * and a burst shared one budget) — and the host's own checks of what the tenant sends, since the
 * runtime's run in the tenant's realm. The tier gives `deliver`, which hands one event in and
 * calls done() once it has been handled.
 */
export class SandboxSockets {
  readonly #links = new Map<number, SocketLink>();
  /** Outbound sockets open (linkOutbound), until they close. */
  #outbound = 0;
  /** Ids of outbound sockets whose handshake is in flight (reserveOutbound). */
  readonly #reserved = new Set<number>();
  /** Outbound sockets linked and not read yet: the tenant has not accepted them (acceptOutbound). */
  readonly #unread = new Map<number, OutboundSocket>();
  /** Outbound sockets the tenant answered an upgrade with, joined to that client (answer()). */
  readonly #bridges = new Set<SocketBridge>();
  readonly #inbox = new Fifo<SocketEvent>();
  readonly #inflow = new SocketInflow();
  /** The event in the sandbox now, if any. */
  #current: SocketEvent | undefined;
  readonly #deliver: (event: SocketEvent) => void;
  readonly #alive: () => boolean;
  readonly #onNone: () => void;

  /** `onNone`: the last open socket closed (work left for the sockets' sake may be let go). */
  constructor(deliver: (event: SocketEvent) => void, alive: () => boolean, onNone: () => void = () => {}) {
    this.#deliver = deliver;
    this.#alive = alive;
    this.#onNone = onNone;
  }

  /** Open sockets: the sandbox is not idle while it holds any, though they take no request slot. */
  get size(): number {
    // A client joined to an outbound socket (answer()) is an open socket of the sandbox's too.
    return this.#links.size + this.#bridges.size;
  }

  /** The runtime answered an upgrade with socket `id`: its link, or undefined for an id that is no new one. */
  accept(id: unknown): SocketLink | undefined {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0 || this.#links.has(id)) return undefined;
    const link = new SocketLink(this.#inflow, {
      message: (data, taken) => this.#push({ id, kind: SOCKET_MESSAGE, data, taken }),
      closed: (code, reason) => {
        this.#links.delete(id);
        this.#push({ id, kind: SOCKET_CLOSE, code, reason });
        if (this.size === 0) this.#onNone();
      },
    });
    this.#links.set(id, link);
    // What the handler sent before it answered waits in the sandbox until now.
    this.#push({ id, kind: SOCKET_LINKED });
    return link;
  }

  /**
   * Before an outbound WebSocket's handshake (fetch with Upgrade, `new WebSocket`): takes the
   * runtime's `id` for it until its handshake() ends, or says why not —
   * an id that is no new one (a process's runtime can name any), or the sandbox's bound reached.
   * Checked before the host dials anything.
   */
  reserveOutbound(id: unknown): string | undefined {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0 || this.#links.has(id) || this.#reserved.has(id)) {
      return 'fetch: the WebSocket was given an id in use';
    }
    if (this.#outbound + this.#reserved.size >= MAX_OUTBOUND_SOCKETS) {
      return `fetch: a function may hold at most ${MAX_OUTBOUND_SOCKETS} outbound WebSockets at once, open or connecting`;
    }
    this.#reserved.add(id);
    return undefined;
  }

  /**
   * The handshake of outbound socket `id` (reserved first: reserveOutbound), for both tiers: links
   * the socket when the server upgrades, unless the caller gave up meanwhile (`cancel`) or the
   * sandbox went (`alive`), and frees the reservation either way. What the runtime is to be told,
   * or undefined when nobody is.
   */
  async handshake(id: number, connecting: Promise<OutboundSocketResult>, cancel: AbortSignal, alive: () => boolean): Promise<HandshakeAnswer | undefined> {
    try {
      const { response, socket } = await connecting;
      if (!socket) return { response };
      if (!alive() || cancel.aborted) {
        socket.discard();
        return undefined;
      }
      return this.#linkOutbound(id, socket) ? { response, socketId: id } : { error: 'fetch: the WebSocket was given an id in use' };
    } catch (err) {
      return { error: err instanceof EgressError ? err.message : 'fetch failed' };
    } finally {
      this.#reserved.delete(id);
    }
  }

  /**
   * An outbound WebSocket whose `id` was reserved is upgraded: it is carried under that id as a
   * client's socket is, read once the tenant accepts it (acceptOutbound). False, and the socket
   * discarded, if the id was not reserved.
   */
  #linkOutbound(id: number, socket: OutboundSocket): boolean {
    const link = this.#reserved.delete(id) ? this.accept(id) : undefined;
    if (!link) {
      socket.discard();
      return false;
    }
    // Its place is given back when its connection closes, however that comes about: read by the
    // function, joined to a client, or never taken at all.
    this.#outbound++;
    socket.onClosed(() => {
      this.#outbound--;
      // Closed by its server before the function took it: the function hears of it now (on
      // accept(), as events that came before), and the sandbox holds the socket no more.
      if (this.#unread.has(id)) this.acceptOutbound(id);
    });
    link.open(socket);
    this.#unread.set(id, socket);
    return true;
  }

  /** The tenant takes outbound socket `id`'s messages: they go to it from now on. */
  acceptOutbound(id: unknown): void {
    const socket = this.#unread.get(id as number);
    const link = this.#links.get(id as number);
    if (!socket || !link) return;
    this.#unread.delete(id as number);
    socket.attach({
      message: (data) => link.message(data),
      closed: (code, reason) => link.closed(code, reason),
    });
  }

  /**
   * No request is in flight: outbound sockets never accepted nor handed on close (1001), as on
   * Workers, where a socket is its request's. A tenant that drops one would otherwise hold its
   * place (and the connection) for as long as the server kept it open.
   */
  closeUnread(): void {
    for (const id of this.#unread.keys()) this.#links.get(id)?.refuse(1001, 'it was never accepted, and the request that opened it is over');
  }

  /**
   * The runtime answered an upgrade with socket `id`: a new WebSocketPair end's (a link, as
   * accept() makes), or an outbound socket of the tenant's own it never read, which the host joins
   * to the client (`return fetch(request)`: proxying) and the tenant hears of no more. Undefined
   * for any other id.
   */
  answer(id: unknown): TenantSocket | undefined {
    const remote = this.#unread.get(id as number);
    if (!remote) return this.accept(id);
    this.#unread.delete(id as number);
    this.#links.delete(id as number);
    const bridge = new SocketBridge(remote, () => {
      this.#bridges.delete(bridge);
      if (this.size === 0) this.#onNone();
    });
    this.#bridges.add(bridge);
    return bridge;
  }

  /** The tenant sends on socket `id`: null when taken (or dropped, the socket closing), else why it was refused. */
  send(id: number, data: unknown): string | null {
    if (typeof data !== 'string' && !(data instanceof ArrayBuffer)) return 'a WebSocket message is a string or bytes';
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (size > MAX_SOCKET_MESSAGE_BYTES) return `a WebSocket message is at most ${MAX_SOCKET_MESSAGE_BYTES} bytes, got ${size}`;
    const link = this.#links.get(id);
    if (!link) return null;
    link.send(data);
    if (link.backlog > BACKLOG_CHECK_BYTES && this.#backlog() > MAX_SANDBOX_OUTBOUND_BYTES) {
      link.refuse(1008, "the function's WebSockets hold too much their peers have not taken");
    }
    return null;
  }

  /** What the tenant sent on all its sockets that their peers have not taken, in bytes. */
  #backlog(): number {
    let bytes = 0;
    for (const link of this.#links.values()) bytes += link.backlog;
    return bytes;
  }

  /** The tenant closes socket `id`: code 1000, 3000–4999 or 1005 (none), a reason of at most 123 bytes; else why not. */
  close(id: number, code: unknown, reason: unknown): string | null {
    const valid = code === 1000 || code === 1005 || (typeof code === 'number' && Number.isInteger(code) && code >= 3000 && code <= 4999);
    if (!valid) return `the close code must be 1000 or from 3000 to 4999, got ${String(code)}`;
    if (typeof reason !== 'string' || Buffer.byteLength(reason) > 123) return 'the close reason must be a string of at most 123 bytes';
    // An outbound socket closed unread (never accepted) is read from now on: its close comes back
    // through the link, and its place among the sandbox's outbound sockets is given up then.
    if (this.#unread.has(id)) this.acceptOutbound(id);
    this.#links.get(id)?.close(code, reason);
    return null;
  }

  /** Socket `id`'s link: for a runtime the host cannot answer in time (a process's), to close it when it sends what send() or close() refuse. */
  link(id: number): SocketLink | undefined {
    return this.#links.get(id);
  }

  /** The event given to `deliver` has been handled: the next one may go in. False if none was given. */
  done(): boolean {
    const current = this.#current;
    if (!current) return false;
    this.#current = undefined;
    current.taken?.();
    this.#next();
    return true;
  }

  /** The sandbox is gone: every client's connection closes, 1012 (service restart) when stopped, 1011 when a limit ended it. */
  endAll(stopped: boolean): void {
    const [code, reason] = stopped ? [1012, 'the function was restarted'] : [1011, 'the function hit a limit'];
    for (const link of this.#links.values()) link.end(code, reason);
    for (const bridge of this.#bridges) bridge.end(code, reason);
    this.#links.clear();
    this.#reserved.clear();
    this.#unread.clear();
    this.#bridges.clear();
    this.#inbox.clear();
  }

  #push(event: SocketEvent): void {
    if (!this.#alive()) return event.taken?.();
    this.#inbox.push(event);
    this.#next();
  }

  #next(): void {
    if (this.#current || !this.#alive()) return;
    const next = this.#inbox.shift();
    if (!next) return;
    this.#current = next;
    this.#deliver(next);
  }
}

/** A close code that may go in a close frame: a peer's 1005 (none) or 1006 (lost) may not. */
function sendable(code: number): number {
  return code === 1005 ? 1005 : (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999) ? code : 1001;
}

/**
 * A client's WebSocket joined by the host to an outbound socket the tenant answered its upgrade
 * with (proxying): messages go straight between the two, the tenant out of the way, under the
 * same bounds as a tenant's socket (1 MB messages, as ws holds both to; 16 MB either peer has not
 * taken, past which both close with 1008). Either side's close closes the other.
 */
class SocketBridge implements TenantSocket {
  readonly #remote: OutboundSocket;
  readonly #ended: () => void;
  #client: ClientSocket | undefined;
  #done = false;

  constructor(remote: OutboundSocket, ended: () => void) {
    this.#remote = remote;
    this.#ended = ended;
  }

  open(client: ClientSocket): void {
    if (this.#done) return client.close(1001, 'the function went away');
    this.#client = client;
    this.#remote.attach({
      message: (data) => {
        if (client.buffered > MAX_OUTBOUND_BYTES) return this.end(1008, 'the client is not reading what the server sends');
        client.send(data);
      },
      closed: (code, reason) => {
        client.close(sendable(code), reason);
        this.#finish();
      },
    });
  }

  message(data: string | ArrayBuffer): void {
    if (this.#done) return;
    if (this.#remote.buffered > MAX_OUTBOUND_BYTES) return this.end(1008, 'the server is not reading what the client sends');
    this.#remote.send(data);
  }

  closed(code: number, reason: string): void {
    if (this.#done) return;
    this.#remote.close(sendable(code), reason);
    this.#finish();
  }

  /** Both connections close with `code` (the sandbox went, or a peer fell behind). */
  end(code: number, reason: string): void {
    if (this.#done) return;
    this.#client?.close(code, reason);
    this.#remote.close(code, reason);
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#ended();
  }
}
