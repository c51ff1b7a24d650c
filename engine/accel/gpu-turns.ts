// One WebGPU run at a time in the whole process. onnxruntime's WebGPU provider segfaults the
// process when two sessions run at once on Linux/Vulkan (onnxruntime issue #32561, open; seen here
// on an H100: 8 pool workers each running a session crashed the bench), while runs one after
// another are fine. So every WebGPU step (creating a session, running it) takes a turn:
//  - within a thread, turns queue on a promise chain;
//  - across threads, on one 64-bit word in a SharedArrayBuffer that every pool of the process
//    hands its workers (workerData.gpuTurns), taken with Atomics.compareExchange and waited on
//    with Atomics.waitAsync, so a waiting thread's event loop stays free.
// A thread ended while holding the turn (a stopped batch's worker is terminated) cannot give it
// back, so a turn is a lease: the word holds who has it and until when, changed together in one
// atomic step; the holder renews it while it runs, and a lease left to run out is taken over.
import { threadId } from 'node:worker_threads';

const FREE = 0n;
const HOLDER_BITS = 20n;
const LEASE_S = 3;
const RENEW_MS = 500;

export function createTurnWord(): SharedArrayBuffer {
  return new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT);
}

/** The word's value while `holder` (a thread id + 1) has the turn until `untilS` (epoch seconds). */
export function turnValue(holder: number, untilS: number): bigint {
  return (BigInt(untilS) << HOLDER_BITS) | BigInt(holder);
}

const holderOf = (value: bigint) => Number(value & ((1n << HOLDER_BITS) - 1n));
const untilOf = (value: bigint) => Number(value >> HOLDER_BITS);
const nowS = () => Math.floor(Date.now() / 1000);

export class GpuTurns {
  readonly #word: BigInt64Array | undefined;
  #chain: Promise<unknown> = Promise.resolve();

  /** Without a shared word (outside a pool), turns are taken within this thread only. */
  constructor(shared?: SharedArrayBuffer) {
    this.#word = shared && new BigInt64Array(shared);
  }

  /** Runs `step` when no other WebGPU step in the process is running. */
  take<T>(step: () => Promise<T>): Promise<T> {
    const turn = this.#chain.then(async () => {
      const release = await this.#acquire();
      try {
        return await step();
      } finally {
        release();
      }
    });
    this.#chain = turn.catch(() => undefined);
    return turn;
  }

  async #acquire(): Promise<() => void> {
    const word = this.#word;
    if (!word) return () => {};
    const me = threadId + 1;
    for (;;) {
      const seen = Atomics.load(word, 0);
      // Free, or held by a thread whose lease ran out (it ended without giving the turn back).
      if ((seen === FREE || untilOf(seen) < nowS()) && Atomics.compareExchange(word, 0, seen, turnValue(me, nowS() + LEASE_S)) === seen) {
        return this.#held(word, me);
      }
      if (seen === FREE) continue;
      // Woken when the holder gives the turn back; the timeout re-checks its lease. A pending
      // waitAsync does not keep a thread's event loop alive: the timer does.
      const wait = Atomics.waitAsync(word, 0, seen, RENEW_MS);
      if (!wait.async) continue;
      const alive = setTimeout(() => {}, RENEW_MS);
      await wait.value;
      clearTimeout(alive);
    }
  }

  /** Renews the lease while held; the release gives it back unless it was taken over meanwhile. */
  #held(word: BigInt64Array, me: number): () => void {
    const renew = setInterval(() => {
      const value = Atomics.load(word, 0);
      if (holderOf(value) === me) Atomics.compareExchange(word, 0, value, turnValue(me, nowS() + LEASE_S));
    }, RENEW_MS);
    return () => {
      clearInterval(renew);
      const value = Atomics.load(word, 0);
      if (holderOf(value) === me && Atomics.compareExchange(word, 0, value, FREE) === value) Atomics.notify(word, 0, 1);
    };
  }
}
