// Timers in the order HTML runs them: by deadline, then by the order they were (re)armed. The
// isolate's runtime keeps its timers in one (it picks which due timer runs) and the host keeps
// one per isolate to know when to wake it (engine/tiers/isolate/timer-queue.ts).

export interface Deadlined {
  /** Date.now() milliseconds at which it is due. */
  deadline: number;
  /** When it was (re)armed among the queue's items: the tie-break, and unique. */
  seq: number;
}

function before(a: Deadlined, b: Deadlined): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}

/** A sorted array: binary search to insert and remove, the earliest at its head. */
export class DeadlineQueue<T extends Deadlined> {
  readonly #items: T[] = [];

  get length(): number {
    return this.#items.length;
  }

  /** The earliest item, left in the queue. */
  peek(): T | undefined {
    return this.#items[0];
  }

  shift(): T | undefined {
    return this.#items.shift();
  }

  insert(item: T): void {
    this.#items.splice(this.#indexFor(item), 0, item);
  }

  /** Takes `item` out, if it is in: items are unique under the order (seqs are), so the search lands on it. */
  remove(item: T): void {
    const at = this.#indexFor(item);
    if (this.#items[at] === item) this.#items.splice(at, 1);
  }

  clear(): void {
    this.#items.length = 0;
  }

  /** The first index whose item does not come before `item`. */
  #indexFor(item: T): number {
    let low = 0;
    let high = this.#items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (before(this.#items[mid]!, item)) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
