// Isolates booted ahead of time, with the runtime loaded and no tenant, waiting to be specialised
// for whichever function cold-starts next. A cold start then pays only for loading the tenant's
// module. Booting happens in the background, one isolate at a time, after the request that took
// a template has had its turn.
//
// Isolates are created with their memory limit fixed, so templates are kept per memoryMb.
// The target size per memoryMb adapts to demand: each take that finds the pool empty raises it by
// one (up to maxSize); every idle period without such a miss lowers it by one (down to minSize).

export interface Template {
  stop(): void;
}

export interface TemplatePoolOptions {
  /** Templates kept ready per memoryMb when cold starts are rare. Default 1. */
  minSize?: number;
  /** Most templates kept ready per memoryMb. Default 8. */
  maxSize?: number;
  /** A period without a miss after which the target shrinks by one. Default 30 s. */
  shrinkAfterMs?: number;
  /**
   * How long a refill waits after a take. Creating an isolate from a snapshot holds the event
   * loop for a few milliseconds; waiting lets the cold request that took the template finish
   * first. Default 10 ms.
   */
  refillDelayMs?: number;
}

const DEFAULTS: Required<TemplatePoolOptions> = { minSize: 1, maxSize: 8, shrinkAfterMs: 30_000, refillDelayMs: 10 };

interface Shelf<T> {
  ready: T[];
  target: number;
  booting: boolean;
  lastMiss: number;
}

export class TemplatePool<T extends Template> {
  readonly #boot: (memoryMb: number) => Promise<T>;
  readonly #options: Required<TemplatePoolOptions>;
  readonly #shelves = new Map<number, Shelf<T>>();
  readonly #onError: (err: unknown) => void;
  #closed = false;

  constructor(boot: (memoryMb: number) => Promise<T>, onError: (err: unknown) => void, options: TemplatePoolOptions = {}) {
    this.#boot = boot;
    this.#onError = onError;
    this.#options = { ...DEFAULTS, ...options };
    if (this.#options.minSize < 0 || this.#options.maxSize < this.#options.minSize) {
      throw new RangeError('template pool sizes need 0 <= minSize <= maxSize');
    }
  }

  /** A ready template for `memoryMb`, or undefined (a miss, which grows the pool). */
  take(memoryMb: number): T | undefined {
    const shelf = this.#shelf(memoryMb);
    const now = Date.now();
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
    this.#refill(memoryMb, this.#shelf(memoryMb));
  }

  /** Ready templates per memoryMb, and each shelf's current target. */
  stats(): { memoryMb: number; ready: number; target: number }[] {
    return [...this.#shelves].map(([memoryMb, s]) => ({ memoryMb, ready: s.ready.length, target: s.target }));
  }

  close(): void {
    this.#closed = true;
    for (const shelf of this.#shelves.values()) {
      for (const t of shelf.ready) t.stop();
      shelf.ready = [];
    }
  }

  #shelf(memoryMb: number): Shelf<T> {
    let shelf = this.#shelves.get(memoryMb);
    if (!shelf) {
      shelf = { ready: [], target: this.#options.minSize, booting: false, lastMiss: Date.now() };
      this.#shelves.set(memoryMb, shelf);
    }
    return shelf;
  }

  #refill(memoryMb: number, shelf: Shelf<T>): void {
    if (shelf.booting || this.#closed) return;
    while (shelf.ready.length > shelf.target) shelf.ready.shift()!.stop();
    if (shelf.ready.length >= shelf.target) return;
    shelf.booting = true;
    const timer = setTimeout(() => {
      this.#boot(memoryMb).then(
        (template) => {
          shelf.booting = false;
          if (this.#closed) template.stop();
          else shelf.ready.push(template);
          this.#refill(memoryMb, shelf);
        },
        (err: unknown) => {
          // A template that cannot boot now is not retried in a loop; the next take tries again.
          shelf.booting = false;
          this.#onError(err);
        },
      );
    }, this.#options.refillDelayMs);
    timer.unref();
  }
}
