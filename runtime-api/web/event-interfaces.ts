// The event interfaces of HTML and WebSockets a worker's code may construct: ErrorEvent and
// PromiseRejectionEvent (HTML §8.1.4), MessageEvent (HTML §9.3) and CloseEvent (WebSockets §4).
// Nothing in the runtime fires them yet; they exist so that code (and libraries) that make or
// test for them work as on workerd. Defined on first use (runtime-api/index.ts, lazyGlobals): the
// classes are made inside a function, not at the top level and not in a require()d module, which
// would make esbuild wrap this module's imports (event.ts, webidl/) in lazy initializers too.
import { Event, type EventInit } from './event.ts';
import { defineInterface, NO_MEMBERS, requireArguments, toDictionary, toDOMString, toUnsignedShort, toUSVString } from '../webidl/index.ts';

type Init = EventInit & Record<string, unknown>;

/** The event's own dictionary; Event's constructor has checked it is one and read its members. */
function dict(eventInitDict: unknown): Record<string, unknown> {
  return (eventInitDict ?? NO_MEMBERS) as Record<string, unknown>;
}

function isEmptySequence(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || typeof (value as Iterable<unknown>)[Symbol.iterator] !== 'function') return false;
  for (const _ of value as Iterable<unknown>) return false;
  return true;
}

/** Makes the four interfaces; called once per isolate, on first use of any of them. */
export function defineEventInterfaces() {
  class ErrorEvent extends Event {
    #message: string;
    #filename: string;
    #lineno: number;
    #colno: number;
    #error: unknown;

    constructor(type: string, eventInitDict: Init | undefined = undefined) {
      requireArguments(arguments.length, 1, "Failed to construct 'ErrorEvent'");
      super(type, eventInitDict);
      // Own members after Event's, each read and converted in lexicographic order; unsigned long is ToUint32.
      const init = dict(eventInitDict);
      this.#colno = Number(init.colno) >>> 0;
      this.#error = init.error;
      this.#filename = init.filename === undefined ? '' : toUSVString(init.filename);
      this.#lineno = Number(init.lineno) >>> 0;
      this.#message = init.message === undefined ? '' : toDOMString(init.message);
    }

    get message(): string {
      return this.#message;
    }

    get filename(): string {
      return this.#filename;
    }

    get lineno(): number {
      return this.#lineno;
    }

    get colno(): number {
      return this.#colno;
    }

    get error(): unknown {
      return this.#error;
    }
  }

  class PromiseRejectionEvent extends Event {
    #promise: object;
    #reason: unknown;

    constructor(type: string, eventInitDict: Init) {
      const where = "Failed to construct 'PromiseRejectionEvent'";
      requireArguments(arguments.length, 2, where);
      // A dictionary with a required member: undefined and null do not make an empty one.
      if (toDictionary(eventInitDict, where) === undefined) throw new TypeError(`${where}: member promise is required`);
      super(type, eventInitDict);
      const promise = eventInitDict.promise;
      if (promise === null || (typeof promise !== 'object' && typeof promise !== 'function')) {
        throw new TypeError(`${where}: member promise is required and must be an object`);
      }
      this.#promise = promise;
      this.#reason = eventInitDict.reason;
    }

    get promise(): object {
      return this.#promise;
    }

    get reason(): unknown {
      return this.#reason;
    }
  }

  class MessageEvent extends Event {
    #data: unknown;
    #origin: string;
    #lastEventId: string;

    constructor(type: string, eventInitDict: Init | undefined = undefined) {
      const where = "Failed to construct 'MessageEvent'";
      requireArguments(arguments.length, 1, where);
      super(type, eventInitDict);
      const init = dict(eventInitDict);
      const data = init.data;
      this.#data = data === undefined ? null : data;
      this.#lastEventId = init.lastEventId === undefined ? '' : toDOMString(init.lastEventId);
      this.#origin = init.origin === undefined ? '' : toUSVString(init.origin);
      // A worker has no MessagePort, window or service worker: the only valid ports and source are none.
      const ports = init.ports;
      if (ports !== undefined && !isEmptySequence(ports)) throw new TypeError(`${where}: member ports is not a sequence of MessagePort`);
      const source = init.source;
      if (source !== undefined && source !== null) throw new TypeError(`${where}: member source is not a MessageEventSource`);
    }

    get data(): unknown {
      return this.#data;
    }

    get origin(): string {
      return this.#origin;
    }

    get lastEventId(): string {
      return this.#lastEventId;
    }

    get source(): null {
      return null;
    }

    get ports(): readonly never[] {
      return noPorts;
    }
  }

  const noPorts: readonly never[] = Object.freeze([]);

  class CloseEvent extends Event {
    #wasClean: boolean;
    #code: number;
    #reason: string;

    constructor(type: string, eventInitDict: Init | undefined = undefined) {
      requireArguments(arguments.length, 1, "Failed to construct 'CloseEvent'");
      super(type, eventInitDict);
      const init = dict(eventInitDict);
      this.#code = toUnsignedShort(init.code);
      this.#reason = init.reason === undefined ? '' : toUSVString(init.reason);
      this.#wasClean = Boolean(init.wasClean);
    }

    get wasClean(): boolean {
      return this.#wasClean;
    }

    get code(): number {
      return this.#code;
    }

    get reason(): string {
      return this.#reason;
    }
  }

  defineInterface(ErrorEvent, 'ErrorEvent');
  defineInterface(PromiseRejectionEvent, 'PromiseRejectionEvent');
  defineInterface(MessageEvent, 'MessageEvent');
  defineInterface(CloseEvent, 'CloseEvent');

  return { ErrorEvent, PromiseRejectionEvent, MessageEvent, CloseEvent };
}

let events: ReturnType<typeof defineEventInterfaces> | undefined;

/** The isolate's one set of the four interfaces, made on the first call. */
export function eventInterfaces(): ReturnType<typeof defineEventInterfaces> {
  events ??= defineEventInterfaces();
  return events;
}
