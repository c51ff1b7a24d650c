// DOM §3.1 "Aborting ongoing activities": AbortController and AbortSignal,
// with dependent signals (AbortSignal.any) and "add an abort algorithm" for
// runtime code that must react to an abort without a listener tenants could see.
//
// Garbage collection (§3.1.5): a signal keeps its dependents through WeakRefs,
// so a long-lived signal does not keep every AbortSignal.any() result made from
// it. A dependent that has abort listeners or abort algorithms is held strongly
// by its sources instead, as the spec requires, until it aborts or loses them.
import { DOMException } from './dom-exception.ts';
import {
  addInternalListener,
  Event,
  EventTarget,
  fireEvent,
  hasEventListener,
  removeInternalListener,
  reportException,
  setSignalHooks,
} from './event.ts';
import { defineInterface, requireArguments } from '../webidl/index.ts';

/** HTML EventHandler: [LegacyTreatNonObjectAsNull], so any object, or null. */
type EventHandler = ((this: AbortSignal, event: Event) => unknown) | object | null;

// Only this module may construct an AbortSignal: the interface has no constructor.
const constructorKey = Symbol('AbortSignal');

const noop = (): void => {};

// Captured at load: the event handler's "return false" cancels through it, whatever tenants do to the prototype.
const { preventDefault } = Event.prototype;

let isAbortSignal: (value: unknown) => value is AbortSignal;
let signalAbort: (signal: AbortSignal, reason: unknown) => void;
let addAlgorithm: (signal: AbortSignal, algorithm: () => void) => () => void;
let createDependentSignal: (signals: AbortSignal[]) => AbortSignal;
let runAbortHandler: (this: AbortSignal, event: Event) => void;

export class AbortSignal extends EventTarget {
  /** The abort reason; undefined until aborted, since "signal abort" makes a missing reason an AbortError. */
  #reason: unknown = undefined;
  #abortAlgorithms: Set<() => void> | null = null;
  /** The source signals; null unless this signal is dependent (made by any()). Few, so held strongly. */
  #sourceSignals: Set<AbortSignal> | null = null;
  /** The dependent signals, weakly; swept of collected and aborted ones when the array reaches #sweepAt. */
  #dependentSignals: WeakRef<AbortSignal>[] | null = null;
  #sweepAt = 8;
  /** Dependent signals that have abort listeners or algorithms, held strongly while this signal lives. */
  #observedDependents: Set<AbortSignal> | null = null;
  #onabort: EventHandler = null;

  constructor(key: unknown = undefined) {
    if (key !== constructorKey) throw new TypeError('Illegal constructor');
    super();
  }

  /** §3.1.3 AbortSignal.abort(reason): a signal already aborted. */
  static abort(reason: unknown = undefined): AbortSignal {
    const signal = new AbortSignal(constructorKey);
    signal.#reason = reason === undefined ? abortError() : reason;
    return signal;
  }

  /** §3.1.3 AbortSignal.timeout(milliseconds): aborts with a TimeoutError after that long. */
  static timeout(milliseconds: number): AbortSignal {
    const where = "Failed to execute 'timeout' on 'AbortSignal'";
    requireArguments(arguments.length, 1, where);
    const ms = toUnsignedLongLongEnforceRange(milliseconds, where);
    const signal = new AbortSignal(constructorKey);
    // Looked up now: the runtime installs its timers after this module loads.
    globalThis.setTimeout(() => {
      signalAbort(signal, new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    }, ms);
    return signal;
  }

  /** §3.1.3 AbortSignal.any(signals): aborts as soon as one of them does. */
  static any(signals: Iterable<AbortSignal>): AbortSignal {
    const where = "Failed to execute 'any' on 'AbortSignal'";
    requireArguments(arguments.length, 1, where);
    // WebIDL sequence<AbortSignal>: the whole iterable is converted first.
    if (signals === null || (typeof signals !== 'object' && typeof signals !== 'function')) {
      throw new TypeError(`${where}: parameter 1 is not iterable`);
    }
    const list: AbortSignal[] = [];
    for (const signal of signals) {
      if (!isAbortSignal(signal)) throw new TypeError(`${where}: an element of parameter 1 is not of type 'AbortSignal'`);
      list.push(signal);
    }
    return createDependentSignal(list);
  }

  get aborted(): boolean {
    return this.#reason !== undefined;
  }

  get reason(): unknown {
    return this.#reason;
  }

  throwIfAborted(): void {
    if (this.#reason !== undefined) throw this.#reason;
  }

  get onabort(): EventHandler {
    return this.#onabort;
  }

  // HTML §8.1.8.1 event handler IDL attribute: the listener keeps the position
  // of the first non-null value, until the handler is set to null.
  set onabort(value: EventHandler) {
    const handler = value !== null && (typeof value === 'object' || typeof value === 'function') ? value : null;
    if (handler === null) {
      if (this.#onabort !== null) removeInternalListener(this, 'abort', runAbortHandler);
    } else if (this.#onabort === null) {
      addInternalListener(this, 'abort', runAbortHandler);
    }
    this.#onabort = handler;
  }

  static {
    isAbortSignal = (value): value is AbortSignal => typeof value === 'object' && value !== null && #reason in value;

    // §3.1.3 "signal abort".
    signalAbort = (signal, reason) => {
      if (signal.#reason !== undefined) return;
      const abortReason = reason === undefined ? abortError() : reason;
      signal.#reason = abortReason;
      let dependentSignalsToAbort: AbortSignal[] | null = null;
      const dependents = signal.#dependentSignals;
      // Aborted now, it never aborts again: it needs its dependents no longer.
      signal.#dependentSignals = null;
      signal.#observedDependents = null;
      if (dependents !== null) {
        for (const ref of dependents) {
          const dependent = ref.deref();
          if (dependent === undefined || dependent.#reason !== undefined) continue;
          dependent.#reason = abortReason;
          (dependentSignalsToAbort ??= []).push(dependent);
        }
      }
      runAbortSteps(signal);
      if (dependentSignalsToAbort === null) return;
      for (const dependent of dependentSignalsToAbort) {
        for (const source of dependent.#sourceSignals!) source.#observedDependents?.delete(dependent);
        runAbortSteps(dependent);
      }
    };

    // §3.1.3 "run the abort steps". The event is only made when someone listens.
    const runAbortSteps = (signal: AbortSignal): void => {
      const algorithms = signal.#abortAlgorithms;
      signal.#abortAlgorithms = null;
      if (algorithms !== null) {
        for (const algorithm of algorithms) {
          try {
            algorithm();
          } catch (error) {
            reportException(error);
          }
        }
      }
      if (hasEventListener(signal, 'abort')) fireEvent(signal, 'abort');
    };

    // §3.1.3 "add an abort algorithm", with a remover for when the work is done.
    addAlgorithm = (signal, algorithm) => {
      if (signal.#reason !== undefined) return noop;
      (signal.#abortAlgorithms ??= new Set()).add(algorithm);
      updateObserved(signal);
      return () => {
        if (signal.#abortAlgorithms?.delete(algorithm)) updateObserved(signal);
      };
    };

    // §3.1.3 "create a dependent abort signal".
    createDependentSignal = (signals) => {
      const resultSignal = new AbortSignal(constructorKey);
      for (const signal of signals) {
        if (signal.#reason !== undefined) {
          resultSignal.#reason = signal.#reason;
          return resultSignal;
        }
      }
      const sources = (resultSignal.#sourceSignals = new Set());
      const ref = new WeakRef(resultSignal);
      const link = (source: AbortSignal): void => {
        if (sources.has(source)) return;
        sources.add(source);
        addDependent(source, ref);
      };
      for (const signal of signals) {
        // A dependent signal's sources are never dependent themselves, so one level suffices.
        if (signal.#sourceSignals === null) link(signal);
        else for (const source of signal.#sourceSignals) link(source);
      }
      return resultSignal;
    };

    const addDependent = (source: AbortSignal, ref: WeakRef<AbortSignal>): void => {
      const dependents = (source.#dependentSignals ??= []);
      if (dependents.length >= source.#sweepAt) {
        let k = 0;
        for (const r of dependents) {
          const dependent = r.deref();
          // Collected, or aborted through another source: this signal will not abort it.
          if (dependent !== undefined && dependent.#reason === undefined) dependents[k++] = r;
        }
        dependents.length = k;
        // Sweeping again only once the live ones have doubled keeps adding amortized O(1).
        source.#sweepAt = Math.max(8, 2 * k);
      }
      dependents.push(ref);
    };

    // §3.1.5: hold a dependent strongly from its sources exactly while it has abort listeners or algorithms.
    const updateObserved = (signal: AbortSignal): void => {
      const sources = signal.#sourceSignals;
      if (sources === null || signal.#reason !== undefined) return;
      const observed = (signal.#abortAlgorithms !== null && signal.#abortAlgorithms.size > 0) || hasEventListener(signal, 'abort');
      for (const source of sources) {
        if (observed) (source.#observedDependents ??= new Set()).add(signal);
        else source.#observedDependents?.delete(signal);
      }
    };

    // HTML "the event handler processing algorithm"; this is the event's currentTarget, the signal.
    runAbortHandler = function (this: AbortSignal, event: Event): void {
      const callback = this.#onabort;
      // A non-callable object handler does nothing ([LegacyTreatNonObjectAsNull]).
      if (typeof callback !== 'function') return;
      if (Reflect.apply(callback, this, [event]) === false) Reflect.apply(preventDefault, event, []);
    };

    setSignalHooks({
      isAbortSignal,
      aborted: (signal) => signal.#reason !== undefined,
      addAbortAlgorithm: addAlgorithm,
      listenersChanged: (target, type) => {
        if (type === 'abort' && isAbortSignal(target)) updateObserved(target);
      },
    });
  }
}

defineInterface(AbortSignal, 'AbortSignal');

export class AbortController {
  #signal = new AbortSignal(constructorKey);

  get signal(): AbortSignal {
    return this.#signal;
  }

  abort(reason: unknown = undefined): void {
    signalAbort(this.#signal, reason);
  }
}

defineInterface(AbortController, 'AbortController');

/**
 * DOM §3.1.3 "add an abort algorithm", for runtime code (fetch): runs
 * algorithm when signal aborts, before the abort event. Like the spec's, it does
 * nothing when signal is aborted already, so check that first. Returns a
 * remover to call when the work is done.
 */
export function addAbortAlgorithm(signal: AbortSignal, algorithm: () => void): () => void {
  return addAlgorithm(signal, algorithm);
}

/**
 * Fetch's request signal: a new signal that follows source (DOM §3.1.3 "create a dependent abort
 * signal" from « source »), or, with no source, one that never aborts.
 */
export function dependentAbortSignal(source: AbortSignal | null): AbortSignal {
  return source === null ? new AbortSignal(constructorKey) : createDependentSignal([source]);
}

/** True for an AbortSignal made here (a brand check: instanceof can be spoofed). */
export function isAbortSignalObject(value: unknown): value is AbortSignal {
  return isAbortSignal(value);
}

function abortError(): DOMException {
  return new DOMException('This operation was aborted', 'AbortError');
}

/** WebIDL [EnforceRange] unsigned long long: a TypeError, not a wrap, outside [0, 2^53 − 1]. */
function toUnsignedLongLongEnforceRange(value: unknown, where: string): number {
  const x = +(value as number);
  if (!Number.isFinite(x)) throw new TypeError(`${where}: ${x} is not a finite number`);
  const n = Math.trunc(x);
  if (n < 0 || n > Number.MAX_SAFE_INTEGER) throw new TypeError(`${where}: ${n} is outside the range of unsigned long long`);
  return n + 0;
}
