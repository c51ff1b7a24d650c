// Isolates booted ahead of time, with the runtime loaded and no tenant, waiting to be specialised
// for whichever function cold-starts next. A cold start then pays only for loading the tenant's
// module. Booting happens in the background, one isolate at a time, after the request that took
// a template has had its turn.
//
// Isolates are created with their memory limit fixed, so templates are kept per memoryMb.
// The target size per memoryMb adapts to demand: each take that finds the pool empty raises it by
// one (up to maxSize); every idle period without such a miss lowers it by one (down to minSize),
// whether or not anything is taken meanwhile. A memory size nobody has taken a template for in
// dropAfterMs (its functions gone, say) goes down to none, unless it was warmed on purpose.

export interface Template {
  stop(): void;
}

export interface TemplatePoolOptions {
  /** Templates kept ready per memoryMb when cold starts are rare. Default 1. */
  minSize?: number;
  /** Most templates kept ready per memoryMb. Default 8. */
  maxSize?: number;
  /**
   * Most templates kept ready (or booting) over all memory sizes. Default 16. Templates are not
   * counted against the engine's live isolate cap, and functions may pick any of thousands of
   * memory sizes: without this bound, each size used once kept a shelf of its own for minutes.
   */
  maxTotal?: number;
  /** A period without a miss after which the target shrinks by one. Default 30 s. */
  shrinkAfterMs?: number;
  /** A period without a take after which a shelf not warmed on purpose shrinks to none. Default 10 min. */
  dropAfterMs?: number;
  /**
   * How long a refill waits after a take. Creating an isolate from a snapshot holds the event
   * loop for a few milliseconds; waiting lets the cold request that took the template finish
   * first. Default 10 ms.
   */
  refillDelayMs?: number;
}

const DEFAULTS: Required<TemplatePoolOptions> = { minSize: 1, maxSize: 8, maxTotal: 16, shrinkAfterMs: 30_000, dropAfterMs: 600_000, refillDelayMs: 10 };

interface Shelf<T> {
  ready: T[];
  target: number;
  booting: boolean;
  /** The last miss, or the last time the target shrank. */
  lastMiss: number;
  lastTake: number;
  /** Warmed on purpose (the default memory size): kept at minSize however long unused. */
  pinned: boolean;
}

export class TemplatePool<T extends Template> {
  readonly #boot: (memoryMb: number) => Promise<T>;
  readonly #options: Required<TemplatePoolOptions>;
  readonly #shelves = new Map<number, Shelf<T>>();
  readonly #onError: (err: unknown) => void;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(boot: (memoryMb: number) => Promise<T>, onError: (err: unknown) => void, options: TemplatePoolOptions = {}) {
    this.#boot = boot;
    this.#onError = onError;
    this.#options = { ...DEFAULTS, ...options };
    if (this.#options.minSize < 0 || this.#options.maxSize < this.#options.minSize || this.#options.maxTotal < 0) {
      throw new RangeError('template pool sizes need 0 <= minSize <= maxSize and 0 <= maxTotal');
    }
  }

  /** A ready template for `memoryMb`, or undefined (a miss, which grows the pool). */
  take(memoryMb: number): T | undefined {
    const shelf = this.#shelf(memoryMb);
    const now = Date.now();
    shelf.lastTake = now;
    const template = shelf.ready.pop();
    if (!template) {
      shelf.target = Math.min(this.#options.maxSize, shelf.target + 1);
      shelf.lastMiss = now;
    } else if (now - shelf.lastMiss > this.#options.shrinkAfterMs && shelf.target > this.#options.minSize) {
      shelf.target--;
      shelf.lastMiss = now;
    }
    this.#refill(memoryMb, shelf);
    return template;
  }

  /** Start filling the shelf for `memoryMb` (e.g. for the default limit, at start-up). */
  warm(memoryMb: number): void {
    const shelf = this.#shelf(memoryMb);
    shelf.pinned = true;
    this.#refill(memoryMb, shelf);
  }

  /** Ready templates per memoryMb, and each shelf's current target. */
  stats(): { memoryMb: number; ready: number; target: number }[] {
    return [...this.#shelves].map(([memoryMb, s]) => ({ memoryMb, ready: s.ready.length, target: s.target }));
  }

  /**
   * Stops every ready template and boots no more. Resolves once the boots in flight have ended
   * and their templates are stopped too: an isolate still being created when its process exits
   * crashed isolated-vm at exit (`environment != nullptr`).
   */
  close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const shelf of this.#shelves.values()) {
      for (const t of shelf.ready) t.stop();
      shelf.ready = [];
    }
    return Promise.all(this.#booting).then(() => {});
  }

  /** Boots in flight: close() waits for them. */
  readonly #booting = new Set<Promise<void>>();

  #shelf(memoryMb: number): Shelf<T> {
    let shelf = this.#shelves.get(memoryMb);
    if (!shelf) {
      const now = Date.now();
      shelf = { ready: [], target: this.#options.minSize, booting: false, lastMiss: now, lastTake: now, pinned: false };
      this.#shelves.set(memoryMb, shelf);
      this.#sweeper ??= setInterval(() => this.shrinkIdle(), Math.max(this.#options.shrinkAfterMs, 1_000)).unref();
    }
    return shelf;
  }

  /**
   * Shrinks shelves that went a period without a miss, as take() does, for pools nobody takes
   * from: blank sandboxes of the process tiers hold ~45 MB each (a VM ~370 MB), and without this a
   * memory size whose functions were all deleted kept its templates for as long as the engine ran.
   */
  shrinkIdle(now = Date.now()): void {
    const { minSize, shrinkAfterMs, dropAfterMs } = this.#options;
    for (const [memoryMb, shelf] of this.#shelves) {
      const floor = shelf.pinned || now - shelf.lastTake < dropAfterMs ? minSize : 0;
      if (shelf.target > floor && now - shelf.lastMiss >= shrinkAfterMs) {
        shelf.target--;
        shelf.lastMiss = now;
      }
      while (shelf.ready.length > shelf.target) shelf.ready.shift()!.stop();
      if (shelf.target === 0 && shelf.ready.length === 0 && !shelf.booting && !shelf.pinned) this.#shelves.delete(memoryMb);
    }
  }

  #refill(memoryMb: number, shelf: Shelf<T>): void {
    if (shelf.booting || this.#closed) return;
    while (shelf.ready.length > shelf.target) shelf.ready.shift()!.stop();
    if (shelf.ready.length >= shelf.target) return;
    if (!this.#roomForOne(shelf)) return;
    shelf.booting = true;
    const timer = setTimeout(() => {
      if (this.#closed) {
        shelf.booting = false;
        return;
      }
      const boot = this.#boot(memoryMb).then(
        (template) => {
          shelf.booting = false;
          if (this.#closed) template.stop();
          else shelf.ready.push(template);
          this.#refill(memoryMb, shelf);
        },
        (err: unknown) => {
          // A template that cannot boot now is not retried in a loop; the next take tries again.
          shelf.booting = false;
          if (!this.#closed) this.#onError(err);
        },
      );
      this.#booting.add(boot);
      void boot.finally(() => this.#booting.delete(boot));
    }, this.#options.refillDelayMs);
    timer.unref();
  }

  /**
   * Whether `shelf` may boot one more template under maxTotal: at the bound, a ready template of
   * the shelf taken from least recently (a pinned one last) is stopped to make room, but only from
   * a shelf that holds more than this one will, or as many and was taken from less recently.
   * Shelves whose targets add up to more than maxTotal then settle, instead of taking a template
   * back and forth forever: a move to a shelf that ends up no smaller goes only from less recently
   * to more recently taken, and any other move lowers the sum of squares of the shelves' sizes.
   */
  #roomForOne(shelf: Shelf<T>): boolean {
    let total = 0;
    for (const s of this.#shelves.values()) total += s.ready.length + (s.booting ? 1 : 0);
    if (total < this.#options.maxTotal) return true;
    const after = shelf.ready.length + 1;
    let victim: Shelf<T> | undefined;
    for (const s of this.#shelves.values()) {
      if (s === shelf || s.ready.length < after || (s.ready.length === after && s.lastTake >= shelf.lastTake)) continue;
      if (!victim || (!s.pinned && victim.pinned) || (s.pinned === victim.pinned && s.lastTake < victim.lastTake)) victim = s;
    }
    if (!victim) return false;
    victim.ready.shift()!.stop();
    return true;
  }
}
