// Workers' WebSockets, for both runtimes. Server side: `new WebSocketPair()` gives two ends; the
// handler accepts one (`server.accept()`) and answers the upgrade with the other
// (`new Response(null, { status: 101, webSocket: client })`). The host then completes the
// handshake with the client and carries messages both ways: what the tenant sends goes out
// through `send`, what the client sends comes in through the definer's `event`, under the
// function's CPU limit per message. Outbound: a fetch() with `Upgrade: websocket` answers with a
// socket to accept (`outbound()` makes it; the fetch's host call connects it), and
// `new WebSocket(url)` connects through `connect`, as in a browser. Not offered: the two ends of a
// pair talking to each other inside the sandbox (one end is the client's). The isolate's runtime
// (websocket.ts) and the process tiers' (sandbox-runtime.ts) each give it their own events,
// conversions and way to the host.
import { byteLengthOf, copyOfBufferSource } from '../web/plain-bytes.ts';
import { nullProto } from '../webidl/null-prototype.ts';

/** Workers' bound on one message, either way. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** WebSockets §9.3.3: a close reason is at most 123 bytes of UTF-8. */
const MAX_REASON_BYTES = 123;
/**
 * Whether a fetch() asks for a WebSocket (Workers: `Upgrade: websocket`), for both runtimes'
 * fetch; a TypeError for such a request that is no GET.
 */
export function asksForWebSocket(method: string, upgrade: string | null): boolean {
  if (upgrade === null || upgrade.trim().toLowerCase() !== 'websocket') return false;
  if (method !== 'GET') throw new TypeError(`fetch: a WebSocket upgrade is a GET, not ${method}`);
  return true;
}

/** A subprotocol is an HTTP token (RFC 6455 §4.1). */
const SUBPROTOCOL = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// What the host tells `event`.
export const SOCKET_MESSAGE = 0;
export const SOCKET_CLOSE = 1;
/** The host knows the socket now: what was sent before may go. */
export const SOCKET_LINKED = 2;

interface EventLike {
  readonly type: string;
}

interface EventTargetLike {
  addEventListener(type: string, listener: never, options?: unknown): void;
  removeEventListener(type: string, listener: never, options?: unknown): void;
  dispatchEvent(event: never): boolean;
}

export interface WebSocketDeps {
  EventTarget: new () => EventTargetLike;
  DOMException: new (message: string, name: string) => Error;
  MessageEvent: new (type: string, init?: Record<string, unknown>) => EventLike;
  CloseEvent: new (type: string, init?: Record<string, unknown>) => EventLike;
  encoder: { encode(text: string): Uint8Array };
  toDOMString(value: unknown): string;
  toUnsignedShort(value: unknown): number;
  requireArguments(given: number, required: number, where: string): void;
  defineInterface(cls: abstract new (...args: never[]) => unknown, name: string): void;
  /** Hands the host a message for socket `id`; null, or why the host refused it. */
  send(id: number, data: string | ArrayBuffer): string | null;
  /** Closes socket `id` (code 1005: none given); null, or why the host refused it. */
  close(id: number, code: number, reason: string): string | null;
  /** The runtime's own URL parser (the global one is the tenant's to replace). */
  URL?: new (url: string) => { href: string; protocol: string; hash: string };
  /** Plain events, for `new WebSocket`'s 'open' and 'error'. */
  Event?: new (type: string) => EventLike;
  /**
   * `new WebSocket(url, protocols)`: connects socket `id` (url http: or https:) and settles with
   * the subprotocol the server chose, or rejects with why it could not. Without it, none connects.
   */
  connect?(id: number, url: string, protocols: string[]): Promise<string>;
  /**
   * An outbound socket's messages are wanted (accept(), or a `new WebSocket` open): until then the
   * host holds them, so that a socket handed on to a client unread (proxying) loses none.
   */
  accept?(id: number): void;
}

export interface WebSockets {
  WebSocket: new (url?: unknown) => EventTargetLike;
  WebSocketPair: new () => Record<0 | 1, EventTargetLike>;
  /** The end a Response carries: its peer is bound to the host, under the id returned. */
  handOver(end: unknown): number;
  /** A socket for an outbound handshake, bound to the host under the id returned, for a Response to carry once upgraded. */
  outbound(): [socket: EventTargetLike, id: number];
  /** The handshake of outbound socket `id` did not upgrade: it is no socket, and the host will not name it. */
  release(id: number): void;
  /** From the host: a client message (a string for text, an ArrayBuffer for binary), its close, or the link. */
  event(id: number, kind: number, data: unknown, code: number, reason: string): void;
}

export function defineWebSockets(deps: WebSocketDeps): WebSockets {
  const { DOMException, requireArguments, toDOMString, toUnsignedShort } = deps;
  const events = deps;
  const constructing = Symbol('WebSocket');
  const bound = new Map<number, WebSocket>();
  let nextId = 1;
  const encoder = deps.encoder;
  // Set by the class's static block, which alone reaches its private fields.
  let makePair: () => [WebSocket, WebSocket];
  let makeOutbound: () => [WebSocket, number];
  let handOver: (end: unknown) => number;
  let deliver: WebSockets['event'];

  class WebSocket extends deps.EventTarget {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;
    declare readonly CONNECTING: 0;
    declare readonly OPEN: 1;
    declare readonly CLOSING: 2;
    declare readonly CLOSED: 3;

    #state = 1;
    #accepted = false;
    /** Given to a Response: the client now holds this end, and it is no longer the tenant's. */
    #handed = false;
    #peer: WebSocket | undefined;
    /** Its id on the host, once its peer was handed over. */
    #id = 0;
    /** Events that came before accept(). */
    #early: (() => void)[] | undefined = [];
    /** What this end sent, and its close, before the host knew the socket (until SOCKET_LINKED). */
    #outbox: (() => string | null)[] | undefined = [];
    readonly #handlers = new Map<string, ((event: EventLike) => unknown) | null>();

    /** A socket of `new WebSocket(url)`: its URL, as given to the handshake (ws: or wss:). */
    #url: string | null = null;
    #protocol = '';

    constructor(url?: unknown, protocols?: unknown) {
      if (protocols === constructing) {
        super();
        return;
      }
      requireArguments(arguments.length, 1, "Failed to construct 'WebSocket'");
      if (!deps.connect || !deps.URL || !deps.Event) throw new TypeError('this runtime opens no outbound WebSockets');
      // WebSockets §3.1 "new WebSocket(url, protocols)": the URL, its scheme, no fragment.
      let parsed: InstanceType<NonNullable<WebSocketDeps['URL']>>;
      try {
        parsed = new deps.URL(toDOMString(url));
      } catch {
        throw new DOMException(`Failed to construct 'WebSocket': the URL '${toDOMString(url)}' is invalid`, 'SyntaxError');
      }
      if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
      else if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
      if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
        throw new DOMException(`Failed to construct 'WebSocket': the URL's scheme must be 'ws' or 'wss', not '${parsed.protocol.slice(0, -1)}'`, 'SyntaxError');
      }
      if (parsed.hash !== '') throw new DOMException("Failed to construct 'WebSocket': the URL must not have a fragment", 'SyntaxError');
      const list = protocols === undefined ? [] : typeof protocols === 'string' || typeof (protocols as Iterable<unknown>)?.[Symbol.iterator] !== 'function'
        ? [toDOMString(protocols)]
        : [...(protocols as Iterable<unknown>)].map(toDOMString);
      const seen = new Set<string>();
      for (const protocol of list) {
        if (!SUBPROTOCOL.test(protocol) || seen.has(protocol.toLowerCase())) {
          throw new DOMException(`Failed to construct 'WebSocket': the subprotocol '${protocol}' is invalid or duplicated`, 'SyntaxError');
        }
        seen.add(protocol.toLowerCase());
      }
      super();
      this.#url = parsed.href;
      this.#state = 0;
      // No accept() for this kind: its events go to listeners as they come.
      this.#accepted = true;
      this.#early = undefined;
      this.#outbound = true;
      this.#id = nextId++;
      bound.set(this.#id, this);
      const http = parsed.href.replace(/^ws/, 'http');
      deps.connect(this.#id, http, list).then((protocol) => {
        if (this.#state === 3) return;
        this.#protocol = protocol;
        if (this.#state === 2) {
          // close() while connecting: the handshake went through, and the close follows it.
          this.#toHost(() => deps.close(this.#id, this.#closing![0], this.#closing![1]));
          return;
        }
        this.#state = 1;
        deps.accept?.(this.#id);
        this.#fire(new (deps.Event!)('open'));
      }, () => {
        if (this.#state === 3) return;
        // WebSockets §4 "fail the WebSocket connection": an error, then a close that was not clean.
        this.#state = 3;
        bound.delete(this.#id);
        this.#fire(new (deps.Event!)('error'));
        this.#fire(new events.CloseEvent('close', { code: 1006, reason: '', wasClean: false }));
      });
    }

    get readyState(): number {
      return this.#state;
    }

    get url(): string | null {
      return this.#url;
    }

    get protocol(): string {
      return this.#protocol;
    }

    get extensions(): string {
      return '';
    }

    /** Starts the delivery of this end's events: those that came before, then the rest as they come. */
    accept(): void {
      if (this.#handed) throw new TypeError('this end of the WebSocketPair was given to a Response: accept the other one');
      if (this.#accepted) return;
      this.#accepted = true;
      if (this.#outbound) deps.accept?.(this.#id);
      // Events that came before go out once the code that called accept() has run on, as on
      // Workers: `ws.accept(); ws.addEventListener('message', …)` must not miss them. Any that
      // come meanwhile join them, in order.
      void Promise.resolve().then(() => {
        const early = this.#early!;
        this.#early = undefined;
        for (const fire of early) fire();
      });
    }

    /** Opened by the function (fetch with Upgrade, new WebSocket), not an end of a pair. */
    #outbound = false;
    /** Its peer's close has come (heard on accept(), if not accepted yet). */
    #peerClosed = false;

    send(message: unknown): void {
      requireArguments(arguments.length, 1, "Failed to execute 'send' on 'WebSocket'");
      if (this.#handed) throw new TypeError('this end of the WebSocketPair was given to a Response: send on the other one');
      if (!this.#accepted) throw new TypeError('You must call accept() on this WebSocket before sending messages.');
      if (this.#state === 0) throw new DOMException("Failed to execute 'send' on 'WebSocket': still connecting", 'InvalidStateError');
      if (this.#state !== 1) throw new TypeError("Can't call WebSocket send() after close().");
      // Bytes copied out of whatever buffer they are on (a SharedArrayBuffer's too), and sizes
      // read, with intrinsics captured at load (web/plain-bytes.ts): what goes to the host is
      // copied whole before it can refuse it, and a tenant's replaced slice or byteLength getter
      // could have sent anything.
      const bytes = copyOfBufferSource(message);
      const data: string | ArrayBuffer = bytes ?? toDOMString(message);
      // A string's UTF-8 is at least 1 and at most 3 bytes a code unit: most need no encoding to be measured.
      const size = typeof data !== 'string'
        ? byteLengthOf(data, 'WebSocket send')
        : data.length > 3 * MAX_MESSAGE_BYTES ? data.length : data.length * 3 <= MAX_MESSAGE_BYTES ? 0 : encoder.encode(data).byteLength;
      // The length is checked too: TextEncoder.prototype.encode is the tenant's to replace.
      if (size > MAX_MESSAGE_BYTES || (typeof data === 'string' && data.length > MAX_MESSAGE_BYTES)) {
        throw new RangeError(`a WebSocket message is at most ${MAX_MESSAGE_BYTES} bytes, got ${size || (data as string).length}`);
      }
      this.#toHost(() => deps.send(this.#id, data));
    }

    close(code?: unknown, reason?: unknown): void {
      if (this.#handed) throw new TypeError('this end of the WebSocketPair was given to a Response: close the other one');
      let closeCode = 1005;
      if (code !== undefined) {
        closeCode = toUnsignedShort(code);
        if (closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999)) {
          throw new DOMException(`The close code must be 1000 or from 3000 to 4999, got ${closeCode}`, 'InvalidAccessError');
        }
      }
      const why = reason === undefined ? '' : toDOMString(reason);
      if (why.length > MAX_REASON_BYTES || encoder.encode(why).byteLength > MAX_REASON_BYTES) throw new DOMException(`The close reason must be at most ${MAX_REASON_BYTES} bytes`, 'SyntaxError');
      if (this.#state === 0) {
        // Still connecting: the close goes once the handshake is done (or nothing, if it fails).
        this.#state = 2;
        this.#closing = [closeCode, why];
        return;
      }
      if (this.#state !== 1) return;
      this.#state = 2;
      this.#toHost(() => deps.close(this.#id, closeCode, why));
    }

    /** close() before a `new WebSocket`'s handshake was done: its code and reason. */
    #closing: [number, string] | undefined;

    /**
     * Sends to the client, through the host, once the host knows this socket: before the
     * response that hands its peer over has even been answered, what the handler sends waits.
     */
    #toHost(send: () => string | null): void {
      if (this.#outbox) {
        this.#outbox.push(send);
        return;
      }
      // The host's word on it: the checks above run in the tenant's realm, the host's do not.
      const refused = send();
      if (refused !== null) throw new TypeError(refused);
    }

    /** An event for this end: fired now if accepted, else when it is. */
    #arrive(fire: () => void): void {
      if (this.#early) this.#early.push(fire);
      else fire();
    }

    #fire(event: EventLike): void {
      this.dispatchEvent(event as never);
    }

    #closed(code: number, reason: string, wasClean: boolean): void {
      if (this.#state === 3) return;
      this.#state = 3;
      if (this.#id !== 0) bound.delete(this.#id);
      this.#fire(new events.CloseEvent('close', { code, reason, wasClean }));
    }

    static {
      const handler = (type: string) => nullProto({
        get(this: WebSocket) {
          return this.#handlers.get(type) ?? null;
        },
        set(this: WebSocket, value: unknown) {
          const previous = this.#handlers.get(type);
          if (previous) this.removeEventListener(type, previous as never);
          const callback = typeof value === 'function' ? (value as (event: EventLike) => unknown) : null;
          this.#handlers.set(type, callback);
          if (callback) this.addEventListener(type, callback as never);
        },
        configurable: true,
        enumerable: true,
      });
      for (const type of ['open', 'message', 'close', 'error']) Object.defineProperty(WebSocket.prototype, `on${type}`, handler(type));
      for (const [name, value] of [['CONNECTING', 0], ['OPEN', 1], ['CLOSING', 2], ['CLOSED', 3]] as const) {
        Object.defineProperty(WebSocket.prototype, name, nullProto({ value, enumerable: true }));
      }
      const pairOf = (client: WebSocket, server: WebSocket) => {
        client.#peer = server;
        server.#peer = client;
      };
      makePair = () => {
        const client = new WebSocket(undefined, constructing);
        const server = new WebSocket(undefined, constructing);
        pairOf(client, server);
        return [client, server];
      };
      makeOutbound = () => {
        const socket = new WebSocket(undefined, constructing);
        socket.#outbound = true;
        socket.#id = nextId++;
        bound.set(socket.#id, socket);
        return [socket, socket.#id];
      };
      handOver = (end) => {
        if (!(end instanceof WebSocket)) throw new TypeError("a Response's webSocket must be an end of a WebSocketPair, or one from fetch()");
        if (end.#handed || end.#accepted) throw new TypeError("a Response's webSocket must be one not accepted, given to one Response only");
        if (end.#state !== 1) throw new TypeError("a Response's webSocket must be open");
        if (end.#peer === undefined) {
          if (end.#peerClosed) throw new TypeError("a Response's webSocket must be open: its server closed this one");
          // A socket from the function's own fetch(), unread: the host joins the client to it
          // (proxying, `return fetch(request)`), and the function hears of it no more.
          end.#handed = true;
          bound.delete(end.#id);
          return end.#id;
        }
        const peer = end.#peer;
        end.#handed = true;
        peer.#id = nextId++;
        bound.set(peer.#id, peer);
        return peer.#id;
      };
      deliver = (id, kind, data, code, reason) => {
        const socket = bound.get(id);
        if (!socket) return;
        if (kind === SOCKET_LINKED) {
          const outbox = socket.#outbox ?? [];
          socket.#outbox = undefined;
          for (const send of outbox) send();
        } else if (kind === SOCKET_MESSAGE) {
          socket.#arrive(() => {
            if (socket.#state !== 3) socket.#fire(new events.MessageEvent('message', { data }));
          });
        } else {
          // The client's close (or the host's, when it went away): the socket is closed either way.
          socket.#peerClosed = true;
          socket.#arrive(() => socket.#closed(code, reason, code !== 1006));
        }
      };
    }
  }

  class WebSocketPair {
    declare 0: WebSocket;
    declare 1: WebSocket;

    constructor() {
      const [client, server] = makePair();
      Object.defineProperty(this, 0, nullProto({ value: client, enumerable: true }));
      Object.defineProperty(this, 1, nullProto({ value: server, enumerable: true }));
    }
  }

  deps.defineInterface(WebSocket, 'WebSocket');
  deps.defineInterface(WebSocketPair, 'WebSocketPair');
  return {
    WebSocket: WebSocket as unknown as WebSockets['WebSocket'],
    WebSocketPair: WebSocketPair as unknown as WebSockets['WebSocketPair'],
    handOver: (end) => handOver(end),
    outbound: () => makeOutbound(),
    release: (id) => void bound.delete(id),
    event: (id, kind, data, code, reason) => deliver(id, kind, data, code, reason),
  };
}
