// DOM §2 "Events": Event (§2.2), CustomEvent (§2.4) and EventTarget (§2.7),
// with the dispatch algorithm (§2.9) for targets that have no parent. There are
// no nodes in an isolate, so an event's path is its target alone: dispatch is
// the two "invoke" passes at the target, capture listeners first, then the rest.
import type { AbortSignal } from './abort.ts';
import { DOMException } from './dom-exception.ts';
import { defineInterface, nullProto, requireArguments, toDictionary, toDOMString } from '../webidl/index.ts';

export interface EventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

export interface CustomEventInit<T = unknown> extends EventInit {
  detail?: T;
}

export interface EventListenerOptions {
  capture?: boolean;
}

export interface AddEventListenerOptions extends EventListenerOptions {
  passive?: boolean;
  once?: boolean;
  signal?: AbortSignal;
}

/** WebIDL callback interface EventListener: a function, or an object whose handleEvent is looked up at each call. */
export type EventListenerOrEventListenerObject = ((event: Event) => void) | { handleEvent(event: Event): void };

// An event's flags (DOM §2.2) and its boolean attributes, in one number. There
// is no "initialized flag": without createEvent(), every Event is initialized.
const stopPropagationFlag = 1;
const stopImmediatePropagationFlag = 2;
const canceledFlag = 4;
const inPassiveListenerFlag = 8;
const dispatchFlag = 16;
const composedFlag = 32;
const bubblesFlag = 64;
const cancelableFlag = 128;
const trustedFlag = 256;

const NONE = 0;
const AT_TARGET = 2;

// Captured at load, so a tenant replacing Object.defineProperty cannot make isTrusted forgeable.
const { defineProperty } = Object;

let clock: (() => number) | null = null;

/**
 * Where Event.timeStamp comes from: milliseconds since the time origin. Until
 * the runtime sets one, timeStamp is 0, as in workerd.
 */
export function setEventClock(fn: (() => number) | null): void {
  clock = fn;
}

// Until the runtime installs its reportError, an exception from a listener
// becomes an unhandled rejection: visible, and it cannot stop the dispatch.
let reportHook: (error: unknown) => void = (error) => {
  void Promise.reject(error);
};

/** Sets what "report an exception" does with exceptions from listeners and abort algorithms. */
export function setReportError(fn: (error: unknown) => void): void {
  reportHook = fn;
}

/** HTML §8.1.4.6 "report an exception". */
export function reportException(error: unknown): void {
  reportHook(error);
}

let flagsOf: (event: Event) => number;
let setFlags: (event: Event, flags: number) => void;
let typeOf: (event: Event) => string;
let setTarget: (event: Event, target: EventTarget) => void;
let setCurrentTarget: (event: Event, currentTarget: EventTarget | null, phase: number) => void;
let isEvent: (value: unknown) => value is Event;

export class Event {
  static readonly NONE = 0;
  static readonly CAPTURING_PHASE = 1;
  static readonly AT_TARGET = 2;
  static readonly BUBBLING_PHASE = 3;

  #type: string;
  #flags: number;
  #target: EventTarget | null = null;
  #currentTarget: EventTarget | null = null;
  #phase = NONE;
  #timeStamp: number;

  /** [LegacyUnforgeable]: an own, non-configurable property of each event, not a prototype getter. */
  declare readonly isTrusted: boolean;

  constructor(type: string, eventInitDict: EventInit | undefined = undefined) {
    const where = "Failed to construct 'Event'";
    requireArguments(arguments.length, 1, where);
    this.#type = toDOMString(type);
    const init = toDictionary(eventInitDict, where);
    // Dictionary members are read in lexicographic order.
    this.#flags =
      init === undefined ? 0 : (init.bubbles ? bubblesFlag : 0) | (init.cancelable ? cancelableFlag : 0) | (init.composed ? composedFlag : 0);
    this.#timeStamp = clock === null ? 0 : clock();
    defineProperty(this, 'isTrusted', isTrustedProperty);
  }

  get type(): string {
    return this.#type;
  }

  get target(): EventTarget | null {
    return this.#target;
  }

  get srcElement(): EventTarget | null {
    return this.#target;
  }

  get currentTarget(): EventTarget | null {
    return this.#currentTarget;
  }

  /** §2.2 composedPath(): the path is the target alone, and non-empty only while listeners run. */
  composedPath(): EventTarget[] {
    return this.#currentTarget === null ? [] : [this.#currentTarget];
  }

  get eventPhase(): number {
    return this.#phase;
  }

  stopPropagation(): void {
    this.#flags |= stopPropagationFlag;
  }

  get cancelBubble(): boolean {
    return (this.#flags & stopPropagationFlag) !== 0;
  }

  set cancelBubble(value: boolean) {
    if (value) this.#flags |= stopPropagationFlag;
  }

  stopImmediatePropagation(): void {
    this.#flags |= stopPropagationFlag | stopImmediatePropagationFlag;
  }

  get bubbles(): boolean {
    return (this.#flags & bubblesFlag) !== 0;
  }

  get cancelable(): boolean {
    return (this.#flags & cancelableFlag) !== 0;
  }

  get returnValue(): boolean {
    return (this.#flags & canceledFlag) === 0;
  }

  set returnValue(value: boolean) {
    if (!value) this.#setTheCanceledFlag();
  }

  preventDefault(): void {
    this.#setTheCanceledFlag();
  }

  get defaultPrevented(): boolean {
    return (this.#flags & canceledFlag) !== 0;
  }

  get composed(): boolean {
    return (this.#flags & composedFlag) !== 0;
  }

  get timeStamp(): number {
    return this.#timeStamp;
  }

  /** §2.2 initEvent(), legacy: "initialize" the event, unless it is being dispatched. */
  initEvent(type: string, bubbles: boolean = false, cancelable: boolean = false): void {
    requireArguments(arguments.length, 1, "Failed to execute 'initEvent' on 'Event'");
    const newType = toDOMString(type);
    if (this.#flags & dispatchFlag) return;
    // Unsets the stop propagation, stop immediate propagation and canceled flags, and isTrusted.
    this.#flags = (this.#flags & composedFlag) | (bubbles ? bubblesFlag : 0) | (cancelable ? cancelableFlag : 0);
    this.#target = null;
    this.#type = newType;
  }

  /** §2.2 "set the canceled flag": only for a cancelable event, and not from a passive listener. */
  #setTheCanceledFlag(): void {
    if ((this.#flags & (cancelableFlag | inPassiveListenerFlag)) === cancelableFlag) this.#flags |= canceledFlag;
  }

  static {
    flagsOf = (event) => event.#flags;
    setFlags = (event, flags) => {
      event.#flags = flags;
    };
    typeOf = (event) => event.#type;
    setTarget = (event, target) => {
      event.#target = target;
    };
    setCurrentTarget = (event, currentTarget, phase) => {
      event.#currentTarget = currentTarget;
      event.#phase = phase;
    };
    isEvent = (value): value is Event => typeof value === 'object' && value !== null && #flags in value;
  }
}

// With no prototype, as every descriptor the runtime writes: each Event is made after tenant code ran.
const isTrustedProperty: PropertyDescriptor = nullProto({
  get: Object.getOwnPropertyDescriptor(
    {
      get isTrusted(): boolean {
        return (flagsOf(this as unknown as Event) & trustedFlag) !== 0;
      },
    },
    'isTrusted',
  )!.get,
  enumerable: true,
  configurable: false,
});

defineInterface(Event, 'Event');
// WebIDL constants are on the interface object and on the prototype.
for (const key of ['NONE', 'CAPTURING_PHASE', 'AT_TARGET', 'BUBBLING_PHASE'] as const) {
  const descriptor = nullProto({ value: Event[key], writable: false, enumerable: true, configurable: false });
  defineProperty(Event, key, descriptor);
  defineProperty(Event.prototype, key, descriptor);
}

export class CustomEvent<T = unknown> extends Event {
  #detail: T | null;

  constructor(type: string, eventInitDict: CustomEventInit<T> | undefined = undefined) {
    requireArguments(arguments.length, 1, "Failed to construct 'CustomEvent'");
    super(type, eventInitDict);
    // After Event's members, as WebIDL reads an inherited dictionary's first; super() has checked it is one.
    const detail = eventInitDict === undefined || eventInitDict === null ? undefined : eventInitDict.detail;
    this.#detail = detail === undefined ? null : detail;
  }

  get detail(): T | null {
    return this.#detail;
  }
}

defineInterface(CustomEvent, 'CustomEvent');

/**
 * What EventTarget needs from abort.ts, which installs it when it loads:
 * AbortSignal extends EventTarget, so this module cannot import it. Until then
 * no AbortSignal exists, and a signal option is rightly a TypeError.
 */
export interface SignalHooks {
  isAbortSignal(value: unknown): value is AbortSignal;
  aborted(signal: AbortSignal): boolean;
  addAbortAlgorithm(signal: AbortSignal, algorithm: () => void): () => void;
  /** After a listener for type was added to or removed from target. */
  listenersChanged(target: EventTarget, type: string): void;
}

let signalHooks: SignalHooks | null = null;

export function setSignalHooks(hooks: SignalHooks): void {
  signalHooks = hooks;
}

/** DOM §2.7 "event listener". */
class Listener {
  type: string;
  callback: object;
  capture: boolean;
  passive: boolean;
  once: boolean;
  removed = false;
  /** Removes the abort algorithm the signal option added, so a long-lived signal does not keep a removed listener. */
  dropAbortAlgorithm: (() => void) | null = null;

  constructor(type: string, callback: object, capture: boolean, passive: boolean, once: boolean) {
    this.type = type;
    this.callback = callback;
    this.capture = capture;
    this.passive = passive;
    this.once = once;
  }
}

let addListener: (target: EventTarget, listener: Listener, signal: AbortSignal | undefined) => void;
let findListener: (target: EventTarget, type: string, callback: object, capture: boolean) => Listener | undefined;
let removeListener: (target: EventTarget, listener: Listener) => void;
let hasListener: (target: EventTarget, type: string) => boolean;
let innerInvoke: (target: EventTarget, event: Event, capturePass: boolean, shown: object) => void;

export class EventTarget {
  /** The event listener list, created with the first listener. */
  #listeners: Listener[] | null = null;
  /**
   * Inner invokes looping over #listeners now. Instead of cloning the list as
   * the spec does, each loop stops at the length it started with, and removal
   * only marks listeners while a loop runs, so their indices hold.
   */
  #looping = 0;
  /** Removed listeners are still in #listeners, waiting for the loops to end. */
  #hasRemoved = false;

  addEventListener(
    type: string,
    callback: EventListenerOrEventListenerObject | null,
    options: AddEventListenerOptions | boolean | undefined = undefined,
  ): void {
    const where = "Failed to execute 'addEventListener' on 'EventTarget'";
    requireArguments(arguments.length, 2, where);
    const listenerType = toDOMString(type);
    const listenerCallback = toEventListener(callback, where);
    // §2.7 "flatten more".
    let capture = false;
    let once = false;
    let passive = false;
    let signal: AbortSignal | undefined;
    if (isDictionaryInUnion(options)) {
      const dict = toDictionary(options, where);
      if (dict !== undefined) {
        capture = Boolean(dict.capture);
        once = Boolean(dict.once);
        // The default passive value is false for every target that is not a node or window.
        passive = Boolean(dict.passive);
        const value = dict.signal;
        if (value !== undefined) {
          if (signalHooks === null || !signalHooks.isAbortSignal(value)) {
            throw new TypeError(`${where}: member signal is not of type 'AbortSignal'`);
          }
          signal = value;
        }
      }
    } else {
      capture = Boolean(options);
    }
    // §2.7.3 "add an event listener".
    if (signal !== undefined && signalHooks!.aborted(signal)) return;
    if (listenerCallback === null) return;
    if (findListener(this, listenerType, listenerCallback, capture) !== undefined) return;
    addListener(this, new Listener(listenerType, listenerCallback, capture, passive, once), signal);
  }

  removeEventListener(
    type: string,
    callback: EventListenerOrEventListenerObject | null,
    options: EventListenerOptions | boolean | undefined = undefined,
  ): void {
    const where = "Failed to execute 'removeEventListener' on 'EventTarget'";
    requireArguments(arguments.length, 2, where);
    const listenerType = toDOMString(type);
    const listenerCallback = toEventListener(callback, where);
    // §2.7 "flatten".
    const capture = isDictionaryInUnion(options) ? Boolean(toDictionary(options, where)?.capture) : Boolean(options);
    if (listenerCallback === null) return;
    const listener = findListener(this, listenerType, listenerCallback, capture);
    if (listener !== undefined) removeListener(this, listener);
  }

  dispatchEvent(event: Event): boolean {
    requireArguments(arguments.length, 1, "Failed to execute 'dispatchEvent' on 'EventTarget'");
    return dispatchUntrusted(this, event, this);
  }

  static {
    addListener = (target, listener, signal) => {
      (target.#listeners ??= []).push(listener);
      if (signal !== undefined) {
        listener.dropAbortAlgorithm = signalHooks!.addAbortAlgorithm(signal, () => removeListener(target, listener));
      }
      signalHooks?.listenersChanged(target, listener.type);
    };
    findListener = (target, type, callback, capture) => {
      const listeners = target.#listeners;
      if (listeners === null) return undefined;
      for (const listener of listeners) {
        if (!listener.removed && listener.type === type && listener.callback === callback && listener.capture === capture) {
          return listener;
        }
      }
      return undefined;
    };
    hasListener = (target, type) => {
      const listeners = target.#listeners;
      if (listeners === null) return false;
      for (const listener of listeners) if (!listener.removed && listener.type === type) return true;
      return false;
    };
    // §2.7.3 "remove an event listener".
    removeListener = (target, listener) => {
      if (listener.removed) return;
      listener.removed = true;
      const drop = listener.dropAbortAlgorithm;
      if (drop !== null) {
        listener.dropAbortAlgorithm = null;
        drop();
      }
      if (target.#looping === 0) {
        const listeners = target.#listeners!;
        listeners.splice(listeners.indexOf(listener), 1);
      } else {
        target.#hasRemoved = true;
      }
      signalHooks?.listenersChanged(target, listener.type);
    };
    // §2.9 "inner invoke", for one of the two passes at the target.
    innerInvoke = (target, event, capturePass, shown) => {
      const listeners = target.#listeners;
      if (listeners === null) return;
      const type = typeOf(event);
      const end = listeners.length;
      target.#looping++;
      try {
        for (let i = 0; i < end; i++) {
          const listener = listeners[i]!;
          if (listener.removed || listener.type !== type || listener.capture !== capturePass) continue;
          if (listener.once) removeListener(target, listener);
          if (listener.passive) setFlags(event, flagsOf(event) | inPassiveListenerFlag);
          try {
            callListener(listener.callback, event, shown);
          } catch (error) {
            reportException(error);
          }
          setFlags(event, flagsOf(event) & ~inPassiveListenerFlag);
          if (flagsOf(event) & stopImmediatePropagationFlag) break;
        }
      } finally {
        if (--target.#looping === 0 && target.#hasRemoved) {
          target.#hasRemoved = false;
          let k = 0;
          for (const listener of listeners) if (!listener.removed) listeners[k++] = listener;
          listeners.length = k;
        }
      }
    };
  }
}

defineInterface(EventTarget, 'EventTarget');

/** WebIDL union of a dictionary and boolean: undefined, null and objects are the dictionary, other values the boolean. */
function isDictionaryInUnion(options: unknown): boolean {
  return options === undefined || options === null || typeof options === 'object' || typeof options === 'function';
}

/** WebIDL conversion to the nullable callback interface EventListener. */
function toEventListener(value: unknown, where: string): object | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' && typeof value !== 'function') {
    throw new TypeError(`${where}: parameter 2 is not of type 'EventListener'`);
  }
  return value;
}

/** WebIDL "call a user object's operation" handleEvent, with the event's currentTarget as this for a function. */
function callListener(callback: object, event: Event, currentTarget: object): void {
  if (typeof callback === 'function') {
    Reflect.apply(callback, currentTarget, [event]);
    return;
  }
  const handleEvent = (callback as { handleEvent?: unknown }).handleEvent;
  if (typeof handleEvent !== 'function') throw new TypeError("The event listener's handleEvent is not a function");
  Reflect.apply(handleEvent, callback, [event]);
}

/** EventTarget's dispatchEvent() after its argument count: an Event, not being dispatched, made untrusted. */
function dispatchUntrusted(target: EventTarget, event: unknown, shown: object): boolean {
  const where = "Failed to execute 'dispatchEvent' on 'EventTarget'";
  if (!isEvent(event)) throw new TypeError(`${where}: parameter 1 is not of type 'Event'`);
  const flags = flagsOf(event);
  if (flags & dispatchFlag) throw new DOMException(`${where}: The event is already being dispatched.`, 'InvalidStateError');
  setFlags(event, flags & ~trustedFlag);
  return dispatch(event, target, shown);
}

/**
 * §2.9 "dispatch" to a target with no parent; returns false when the event was canceled. The
 * listeners are target's; shown is the target listeners see (target, currentTarget, this).
 */
function dispatch(event: Event, target: EventTarget, shown: object = target): boolean {
  setFlags(event, flagsOf(event) | dispatchFlag);
  setTarget(event, shown as EventTarget);
  try {
    invoke(target, event, true, shown);
    invoke(target, event, false, shown);
  } finally {
    setCurrentTarget(event, null, NONE);
    setFlags(event, flagsOf(event) & ~(dispatchFlag | stopPropagationFlag | stopImmediatePropagationFlag));
  }
  return (flagsOf(event) & canceledFlag) === 0;
}

/** §2.9 "invoke", at the target: eventPhase is AT_TARGET in both passes. */
function invoke(target: EventTarget, event: Event, capturePass: boolean, shown: object): void {
  if (flagsOf(event) & stopPropagationFlag) return;
  setCurrentTarget(event, shown as EventTarget, AT_TARGET);
  innerInvoke(target, event, capturePass, shown);
}

/**
 * The global scope's dispatchEvent(): workerd's global object is an event target but no
 * EventTarget (`globalThis instanceof EventTarget` is false there), so its listeners are kept in
 * target and the events show the global object (web/global-scope.ts).
 */
export function dispatchEventAs(target: EventTarget, event: unknown, shown: object): boolean {
  return dispatchUntrusted(target, event, shown);
}

/** A trusted event the runtime made, dispatched as dispatchEventAs does; false when canceled. */
export function fireEventAs(target: EventTarget, event: Event, shown: object): boolean {
  setFlags(event, flagsOf(event) | trustedFlag);
  return dispatch(event, target, shown);
}

/**
 * DOM §2.10 "fire an event": a trusted Event of this type, dispatched at
 * target. Returns false when a listener canceled it.
 */
export function fireEvent(target: EventTarget, type: string): boolean {
  const event = new Event(type);
  setFlags(event, trustedFlag);
  return dispatch(event, target);
}

/** True when target has a listener for type: runtime code skips creating events nobody hears. */
export function hasEventListener(target: EventTarget, type: string): boolean {
  return hasListener(target, type);
}

/**
 * Adds a listener with no options, for runtime code such as HTML's event handler
 * attributes ("activate an event handler"): callback is one tenants never see.
 */
export function addInternalListener(target: EventTarget, type: string, callback: (event: Event) => void): void {
  if (findListener(target, type, callback, false) !== undefined) return;
  addListener(target, new Listener(type, callback, false, false, false), undefined);
}

/** Removes a listener addInternalListener added ("deactivate an event handler"). */
export function removeInternalListener(target: EventTarget, type: string, callback: (event: Event) => void): void {
  const listener = findListener(target, type, callback, false);
  if (listener !== undefined) removeListener(target, listener);
}
