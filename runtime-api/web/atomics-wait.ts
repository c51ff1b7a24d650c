// Atomics.wait blocks the thread it is called on. An isolate's thread is one of isolated-vm's
// shared pool, and the CPU clock the limits read (isolate.cpuTime) runs while it waits: a
// tenant waiting on a SharedArrayBuffer nothing will notify parked its thread past its CPU limit
// unkilled (the watchdog scales readings to what the threads can have used, near nothing on an
// idle host), held it past its wall-clock limit, and with four parked the other tenants' calls
// into isolates were let in one at a time. workerd forbids it on its request threads, as browsers
// do on their main thread, with the same words; Atomics.waitAsync, which does not block, stays.
import { nullProto } from '../webidl/null-prototype.ts';

export function forbidAtomicsWait(global: typeof globalThis): void {
  const wait = {
    wait(): never {
      throw new TypeError('Atomics.wait cannot be called in this context');
    },
  }.wait;
  Object.defineProperty(wait, 'length', nullProto({ value: 4 }));
  Object.defineProperty(global.Atomics, 'wait', nullProto({ value: wait, writable: true, configurable: true, enumerable: false }));
}
