// The isolate's WebSockets (websocket-api.ts) over host calls: the runtime's own events and
// WebIDL conversions, host.wsSend / host.wsClose out, socketEvent in. Defined on first use
// (index.ts, lazyGlobals), like the event interfaces it fires.
import { URL } from 'whatwg-url';
import { DOMException, Event, EventTarget, TextEncoder } from '../web/index.ts';
import { defineInterface, requireArguments, toDOMString, toUnsignedShort } from '../webidl/index.ts';
import { defineWebSockets, type WebSocketDeps, type WebSockets } from './websocket-api.ts';
import { host } from './host-calls.ts';
import { connectSocket } from './outbound-fetch.ts';

let defined: WebSockets | undefined;

/** Makes the classes, once, with the runtime's MessageEvent and CloseEvent. */
export function defineIsolateWebSockets(events: Pick<WebSocketDeps, 'MessageEvent' | 'CloseEvent'>): WebSockets {
  defined ??= defineWebSockets({
    EventTarget: EventTarget as unknown as WebSocketDeps['EventTarget'],
    DOMException: DOMException as unknown as WebSocketDeps['DOMException'],
    MessageEvent: events.MessageEvent,
    CloseEvent: events.CloseEvent,
    encoder: new TextEncoder(),
    toDOMString,
    toUnsignedShort,
    requireArguments,
    defineInterface,
    send: (id, data) => host().wsSend(id, data),
    close: (id, code, reason) => host().wsClose(id, code, reason),
    accept: (id) => host().wsAccept(id),
    URL: URL as unknown as WebSocketDeps['URL'],
    Event: Event as unknown as WebSocketDeps['Event'],
    // `new WebSocket(url)`: the same handshake as a fetch() with Upgrade, made for this socket.
    connect: async (id, url, protocols) => {
      const headers = protocols.length > 0 ? ['sec-websocket-protocol', protocols.join(', ')] : [];
      const response = await connectSocket(url, headers, undefined, id);
      if (response.status !== 101) throw new TypeError(`the server answered the WebSocket handshake with ${response.status}`);
      return response.headers.get('sec-websocket-protocol') ?? '';
    },
  });
  return defined;
}

/** For dispatch: the id the host knows the socket by, or a TypeError if `end` is no WebSocketPair end. */
export function handOverSocket(end: unknown): number {
  if (!defined) throw new TypeError("a Response's webSocket must be an end of a WebSocketPair");
  return defined.handOver(end);
}

/** Called by the host: the client's message (a string for text, an ArrayBuffer for binary) or close. */
export function socketEvent(id: number, kind: number, data: unknown, code: number, reason: string): void {
  defined?.event(id, kind, data, code, reason);
}
