// How many calls islet has isolated-vm run in isolates at once.
//
// isolated-vm runs every isolate of the process on one pool of os.cpus().length + 1 threads, and
// a call that finds them all busy gets an OS thread of its own, started for that call and ended
// after it (src/lib/thread_pool.cc: "All threads are busy and pool is full, just run this in a
// new thread"). With many tenants busy at once that is most calls: 50 functions under load in one
// engine here started ~3,600 threads a second, the event loop spent ~40% of its time inside
// `Reference.apply` starting them, and the server answered 4.6k requests a second where it
// answered 7–8k with this gate (`npm run bench:functions`; since the URL fast path, 7.6k against
// 11k).
//
// So calls into isolates wait here for a thread of the pool, in arrival order; while a batch
// waits, the requests that arrive for the same isolate join it. A pool thread is marked free a
// moment after its call's promise settles, so a call started in that moment still finds the pool
// full now and then (1 call in 10 in a tight loop here); one place fewer than the pool has threads
// avoids that, but served 200 functions 15–25% slower, so the gate matches the pool. A call that
// has run longer than `overdueMs` (a tenant burning CPU, up to its limit) stops holding a place
// but still occupies its thread; when overdue calls occupy every place, one call may still start,
// on a thread of its own if it must, so that slow tenants cannot stop the others.
import { cpus } from 'node:os';

export interface RunSlotsOptions {
  /** Calls that run at once (default: as many as isolated-vm's pool has threads). */
  size?: number;
  /** After how long a running call stops holding its place, in ms. */
  overdueMs?: number;
}

interface Running {
  startedAt: number;
  overdue: boolean;
}

export class RunSlots {
  readonly size: number;
  readonly #overdueMs: number;
  /** Calls running and not yet overdue. */
  #holding = 0;
  /** Calls running longer than overdueMs: still on a pool thread, no longer holding a place. */
  #overdue = 0;
  readonly #running = new Set<Running>();
  readonly #waiting: (() => void)[] = [];
  #waitingHead = 0;
  #timer: NodeJS.Timeout | undefined;
  /** #startWaiting is running: an end inside it leaves the starting to its loop. */
  #starting = false;

  constructor(options: RunSlotsOptions = {}) {
    this.size = Math.max(1, Math.floor(options.size ?? cpus().length + 1));
    this.#overdueMs = options.overdueMs ?? 5;
  }

  /** Calls waiting for a place. */
  get waiting(): number {
    return this.#waiting.length - this.#waitingHead;
  }

  /** Calls running now (overdue ones included). */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Starts `call` now if a place is free, else when one frees up, in arrival order. `call` starts
   * the isolate's work and returns a promise that settles when it has run.
   */
  run(call: () => Promise<unknown> | undefined): void {
    if (this.waiting === 0 && this.#free()) this.#start(call);
    else {
      this.#waiting.push(() => this.#start(call));
      this.#armOverdueCheck();
    }
  }

  #free(): boolean {
    return this.#holding < Math.max(1, this.size - this.#overdue);
  }

  #start(call: () => Promise<unknown> | undefined): void {
    const entry: Running = { startedAt: performance.now(), overdue: false };
    this.#running.add(entry);
    this.#holding++;
    let done: Promise<unknown> | undefined;
    try {
      done = call();
    } catch (err) {
      this.#end(entry);
      throw err;
    }
    if (!done) this.#end(entry);
    else done.then(() => this.#end(entry), () => this.#end(entry));
  }

  #end(entry: Running): void {
    if (!this.#running.delete(entry)) return;
    if (entry.overdue) this.#overdue--;
    else this.#holding--;
    this.#startWaiting();
  }

  #startWaiting(): void {
    // A call that ends at once (its sandbox died: nothing to run) ends inside next(), which would
    // start the next waiting one from there, one stack frame deeper per call: thousands queued for
    // a dead isolate overflowed the stack. The loop here picks up the place it freed instead.
    if (this.#starting) return;
    this.#starting = true;
    try {
      while (this.waiting > 0 && this.#free()) {
        const next = this.#waiting[this.#waitingHead]!;
        this.#waiting[this.#waitingHead++] = undefined as never;
        if (this.#waitingHead > 1024 && this.#waitingHead * 2 > this.#waiting.length) {
          this.#waiting.splice(0, this.#waitingHead);
          this.#waitingHead = 0;
        }
        next();
      }
    } finally {
      this.#starting = false;
    }
    if (this.waiting === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    } else this.#armOverdueCheck();
  }

  /** While calls wait, marks the ones that have run past overdueMs, which frees their places. */
  #armOverdueCheck(): void {
    if (this.#timer || this.#running.size === 0) return;
    let oldest = Infinity;
    for (const entry of this.#running) if (!entry.overdue) oldest = Math.min(oldest, entry.startedAt);
    if (oldest === Infinity) return;
    const delay = Math.max(0, oldest + this.#overdueMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const now = performance.now();
      for (const entry of this.#running) {
        if (!entry.overdue && now - entry.startedAt >= this.#overdueMs) {
          entry.overdue = true;
          this.#holding--;
          this.#overdue++;
        }
      }
      this.#startWaiting();
    }, Math.ceil(delay));
    this.#timer.unref();
  }
}

/**
 * The process's one gate: isolated-vm's thread pool is per process. ISLET_ISOLATE_SLOTS sets its
 * size, 0 for no gate (what `npm run bench:functions` compares against).
 */
export const runSlots = new RunSlots({ size: slotsFromEnv(process.env.ISLET_ISOLATE_SLOTS) });

function slotsFromEnv(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`ISLET_ISOLATE_SLOTS must be a whole number, got "${value}"`);
  return n === 0 ? Infinity : n;
}
