// V8 code caches of tenant scripts, per bundle: the first isolate to compile a bundle produces
// one, and every later cold start of that bundle (another replica, a reboot after eviction, the
// same code deployed under another name) hands it to V8 instead of parsing the source again.
// Kept in memory, bounded by bytes, least recently used first out. Only caches V8 made in this
// process go in: a cache holds compiled code, which must never come from anyone else.
import { createHash } from 'node:crypto';
import type ivm from 'isolated-vm';
import { LRUCache } from 'lru-cache';

export interface CodeCacheOptions {
  /** Total bytes of cached data kept. Default 64 MB (a 100 KB bundle's cache is ~100 KB). */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 64 * 1048576;

export interface CodeCacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  rejected: number;
}

export class CodeCache {
  readonly #entries: LRUCache<string, ivm.ExternalCopy<ArrayBuffer>>;
  #hits = 0;
  #misses = 0;
  #rejected = 0;

  constructor(options: CodeCacheOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (!(maxBytes > 0)) throw new RangeError('code cache maxBytes must be positive');
    this.#entries = new LRUCache({
      maxSize: maxBytes,
      // Once per entry, when it is stored. Entries are not released when they leave: a compile in
      // progress may hold one; the handle's garbage collection frees it.
      sizeCalculation: (data) => Math.max(1, data.copy().byteLength),
    });
  }

  /** The key of a bundle's cache: computed once per deploy, not per cold start. */
  static key(code: string): string {
    return createHash('sha256').update(code).digest('base64url');
  }

  /** Cached data for `key`, counted as a hit or a miss. */
  get(key: string): ivm.ExternalCopy<ArrayBuffer> | undefined {
    const data = this.#entries.get(key);
    if (data) this.#hits++;
    else this.#misses++;
    return data;
  }

  /** What V8 produced compiling the bundle `key`. */
  set(key: string, data: ivm.ExternalCopy<ArrayBuffer>): void {
    this.#entries.set(key, data);
  }

  /** V8 refused the cached data (another V8 version or flags): drop it, a new one replaces it. */
  reject(key: string): void {
    this.#rejected++;
    this.#entries.delete(key);
  }

  stats(): CodeCacheStats {
    return { entries: this.#entries.size, bytes: this.#entries.calculatedSize, hits: this.#hits, misses: this.#misses, rejected: this.#rejected };
  }

  clear(): void {
    this.#entries.clear();
  }
}
