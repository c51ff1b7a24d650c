// Which request the code running now works for, as far as a service-binding chain is concerned:
// how many service-binding calls deep that request is, so that a call it makes is charged one
// more (the host refuses the 33rd). Workers attributes I/O to the request whose event is being
// delivered; so does islet, per call into the isolate:
// - the host sends a batch of requests of one depth together (their microtasks interleave, so a
//   batch of mixed depths could not be told apart), and names the depth of each request's own
//   deliveries (its body's chunks, its client leaving, its response stream's pulls);
// - what the runtime starts for the code running (a subrequest, a timer, a crypto or cache or AI
//   call) takes the depth of that moment, and the call that settles it brings it back.
// Everything else (a WebSocket's event, say) is no request's here: UNKNOWN, and the host charges
// the deepest request its sandbox serves. Tenant code cannot set it; code that hands work from one
// request to another (a promise one resolves and the other awaits) moves that work to the other's
// chain, as on Workers.
import { nullProto } from '../webidl/null-prototype.ts';

export const UNKNOWN_DEPTH = -1;

let current = UNKNOWN_DEPTH;

/** The depth of the request whose work runs now, or UNKNOWN_DEPTH. */
export function chainDepth(): number {
  return current;
}

/** A call into the isolate begins work for a request `depth` calls deep (UNKNOWN_DEPTH: for none it can name). */
export function enterChain(depth: number): void {
  current = depth;
}

const { apply } = Reflect;
const { then } = Promise.prototype;

/**
 * `promise`, settled by V8 in a task of its own, as a promise whose reactions run at the depth of
 * now again (the wake-up of an Atomics.waitAsync, WebAssembly.instantiate).
 */
export function resumingHere<T>(promise: Promise<T>): Promise<T> {
  const depth = current;
  return apply(then, promise, [(value: T) => {
    enterChain(depth);
    return value;
  }, (reason: unknown) => {
    enterChain(depth);
    throw reason;
  }]) as Promise<T>;
}

/**
 * V8 runs some code in tasks of its own, not in a call from the host: a FinalizationRegistry's
 * cleanup callbacks and the wake-up of an Atomics.waitAsync (and WebAssembly.instantiate's
 * answer: runtime-api/host/webassembly.ts). Left alone they would run with the depth the last call
 * left behind (a probe had a refused hop wait on Atomics.waitAsync and carry on 200 deep from the
 * root's depth). So each registration and each wait keeps the depth it was made at, and its
 * callback or wake-up runs at that depth again.
 */
export function attributeV8Tasks(global: typeof globalThis): void {
  const Original = global.FinalizationRegistry;
  if (typeof Original === 'function') {
    const register = Original.prototype.register;
    interface Held { held: unknown; depth: number }
    // A subclass: instanceof, the prototype's other methods and Symbol.toStringTag stay V8's.
    const FinalizationRegistry = class FinalizationRegistry extends Original<Held> {
      constructor(cleanup: (held: unknown) => void) {
        if (typeof cleanup !== 'function') throw new TypeError('FinalizationRegistry: cleanup must be callable');
        super((box: Held) => {
          enterChain(box.depth);
          apply(cleanup, undefined, [box.held]);
        });
      }

      override register(target: WeakKey, held: unknown, token?: WeakKey): void {
        // V8 checks this on the held value it is given, which is the box here.
        if (Object.is(target, held)) throw new TypeError('FinalizationRegistry.prototype.register: target and holdings must not be same');
        apply(register, this, [target, { held, depth: current }, token]);
      }
    };
    // The bundle may rename a class expression; the global keeps V8's name.
    Object.defineProperty(FinalizationRegistry, 'name', nullProto({ value: 'FinalizationRegistry' }));
    Object.defineProperty(global, 'FinalizationRegistry', nullProto({ value: FinalizationRegistry, writable: true, configurable: true, enumerable: false }));
  }
  type WaitAsync = (...args: unknown[]) => { async: boolean; value: unknown };
  const waitAsync = (Atomics as { waitAsync?: WaitAsync }).waitAsync;
  if (typeof waitAsync === 'function') {
    const wrapped = {
      waitAsync(...args: unknown[]): { async: boolean; value: unknown } {
        const result = apply(waitAsync, Atomics, args);
        if (result.async) result.value = resumingHere(result.value as Promise<unknown>);
        return result;
      },
    }.waitAsync;
    Object.defineProperty(wrapped, 'length', nullProto({ value: 4 }));
    Object.defineProperty(Atomics, 'waitAsync', nullProto({ value: wrapped, writable: true, configurable: true, enumerable: false }));
  }
}
