// One isolate's pending timers on the host, for waking the isolate when they come due: by
// deadline, then by the order they were set. Each timer's deadline counts from when the isolate
// set it (the runtime sends that time along), not from when the host heard of it: the runtime's
// calls reach the host as separate tasks, and on a busy host a millisecond can pass between two
// of them. Which timer runs is the runtime's choice (runtime-api/host/timers.ts): the host may
// hear of an earlier one only after it fired a later one. One Node timer (or immediate, when the
// head is already due) wakes the queue for its head.
import { DeadlineQueue, type Deadlined } from '../../../runtime-api/host/deadline-queue.ts';

interface Entry extends Deadlined {
  id: number;
}

export class TimerQueue {
  readonly #fire: (id: number) => void;
  readonly #byId = new Map<number, Entry>();
  /** Holds exactly the entries of #byId. */
  readonly #queue = new DeadlineQueue<Entry>();
  #seq = 0;
  #wake: { at: number; timeout?: NodeJS.Timeout; immediate?: NodeJS.Immediate } | undefined;

  constructor(fire: (id: number) => void) {
    this.#fire = fire;
  }

  get size(): number {
    return this.#byId.size;
  }

  /**
   * Timer `id` (re)armed for `delayMs` from `setAt`, the isolate's clock when its code set it. A
   * `setAt` in the future or not a number counts from now: the host's clock is the authority.
   */
  set(id: number, delayMs: number, setAt: number): void {
    this.#remove(id);
    const now = Date.now();
    const from = Number.isFinite(setAt) && setAt <= now ? setAt : now;
    const entry: Entry = { id, deadline: from + Math.max(0, Number(delayMs) || 0), seq: this.#seq++ };
    this.#byId.set(id, entry);
    this.#queue.insert(entry);
    this.#schedule();
  }

  clear(id: number): void {
    if (this.#remove(id)) this.#schedule();
  }

  clearAll(): void {
    this.#byId.clear();
    this.#queue.clear();
    this.#schedule();
  }

  #remove(id: number): boolean {
    const entry = this.#byId.get(id);
    if (!entry) return false;
    this.#byId.delete(id);
    this.#queue.remove(entry);
    return true;
  }

  /** Keeps one wake-up armed for the head's deadline, or none when the queue is empty. */
  #schedule(): void {
    const head = this.#queue.peek();
    if (this.#wake && head?.deadline === this.#wake.at) return;
    this.#cancelWake();
    if (!head) return;
    const delay = head.deadline - Date.now();
    // unref: a tenant's pending timer must not keep the host process alive on its own.
    this.#wake = delay <= 0
      ? { at: head.deadline, immediate: setImmediate(() => this.#run()).unref() }
      : { at: head.deadline, timeout: setTimeout(() => this.#run(), delay).unref() };
  }

  #cancelWake(): void {
    if (!this.#wake) return;
    if (this.#wake.immediate) clearImmediate(this.#wake.immediate);
    else clearTimeout(this.#wake.timeout);
    this.#wake = undefined;
  }

  #run(): void {
    this.#wake = undefined;
    const now = Date.now();
    // Only timers armed before this run: one that a callback sets at 0 ms waits for the next turn.
    const armedBefore = this.#seq;
    // One at a time, so a callback that clears a timer due in this same run stops it.
    for (let head = this.#queue.peek(); head && head.deadline <= now && head.seq < armedBefore; head = this.#queue.peek()) {
      const entry = this.#queue.shift()!;
      this.#byId.delete(entry.id);
      this.#fire(entry.id);
    }
    this.#schedule();
  }
}
