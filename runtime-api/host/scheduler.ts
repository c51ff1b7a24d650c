// `scheduler.wait(ms, { signal })`, the promise-returning sleep workerd offers its workers (the
// WICG Scheduling APIs' shape). On the runtime's own timers, so it counts against the same limits
// and keeps HTML's ordering with setTimeout.
import { clearTimeout, setTimeout } from './timers.ts';

interface WaitOptions {
  signal?: AbortSignal;
}

export class Scheduler {
  wait(delay?: unknown, options?: WaitOptions): Promise<void> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(id);
        reject(signal!.reason);
      };
      const id = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, delay);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  get [Symbol.toStringTag]() {
    return 'Scheduler';
  }
}

export const scheduler = new Scheduler();
