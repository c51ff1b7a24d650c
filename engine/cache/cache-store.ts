// The Cache API's storage (caches.default, caches.open(name)): responses kept in the engine's
// memory, per function — a tenant reads and evicts only its own — and bounded twice: each
// function by its `cacheMb` limit, least recently used out, and the engine by `cacheMaxMb`,
// taken back from the function holding the most. Both tiers' runtimes come here, so a function's
// replicas (and its sandboxes across restarts of them) share one cache. It lives as long as the
// engine process: a cache, never the only copy of anything.
import { LRUCache } from 'lru-cache';
import { storability } from './cache-control.ts';
import { byteRange, notModified, rangeStillApplies } from './conditional.ts';

/** A request as the runtimes send it: method, URL and flat headers ([name, value, …], lower-case names). */
export interface CacheRequest {
  method: string;
  url: string;
  headers: string[];
}

/** A response as kept and as answered: flat headers; a body of null for none. */
export interface CachedResponse {
  status: number;
  statusText: string;
  headers: string[];
  body: ArrayBuffer | null;
}

/** A call the Cache API refuses; the tenant sees its message as a TypeError. */
export class CacheError extends Error {}

interface Entry {
  status: number;
  statusText: string;
  /** The flat header list, as JSON. */
  headers: string;
  body: ArrayBuffer | null;
  expiresAt: number;
  size: number;
}

/** Longest cache name (caches.open) accepted. */
const MAX_CACHE_NAME = 1024;
// What an entry costs beyond its strings and body: the record, the strings' own headers, the
// body's ArrayBuffer object and lru-cache's slots (measured: ~450 bytes for an empty entry).
const ENTRY_OVERHEAD_BYTES = 640;
/** Headers a kept response may have (a real one has tens). */
const MAX_HEADERS = 256;

export class CacheStore {
  readonly #functions = new Map<string, FunctionCache>();
  #bytes = 0;
  #fitting = false;
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** `name`'s cache, made with `maxBytes` or resized to it: a deploy of the function took effect. */
  configure(name: string, maxBytes: number): void {
    const cache = this.#functions.get(name);
    if (cache) cache.resize(maxBytes);
    else this.#functions.set(name, new FunctionCache(maxBytes, { grew: (delta) => (this.#bytes += delta), fit: () => this.#fit() }));
  }

  /**
   * `name`'s cache, looked up at each call rather than held: a sandbox still draining after its
   * function was undeployed finds none, and a failed deploy never made one.
   */
  get(name: string): FunctionCache | undefined {
    return this.#functions.get(name);
  }

  /**
   * The function is gone: so is what it cached, and what its draining sandboxes would still put
   * (they hold this cache, which takes nothing more and counts for nothing).
   */
  drop(name: string): void {
    this.#functions.get(name)?.drop();
    this.#functions.delete(name);
  }

  /** Bytes held, all functions together. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Over the engine's bound: entries go from the function holding the most, least recently used
   * first. Called after a put has finished, never from lru-cache's own callbacks: evicting from
   * inside them popped the entry being disposed again and again (its bytes subtracted each time),
   * and recursed until the stack ran out.
   */
  #fit(): void {
    if (this.#fitting) return;
    this.#fitting = true;
    try {
      while (this.#bytes > this.maxBytes) {
        let biggest: FunctionCache | undefined;
        for (const cache of this.#functions.values()) if (!biggest || cache.bytes > biggest.bytes) biggest = cache;
        if (!biggest || biggest.bytes === 0 || !biggest.evictOne()) return;
      }
    } finally {
      this.#fitting = false;
    }
  }
}

/** How a function's cache tells the engine's store what it holds, and asks it to keep its bound. */
interface StoreLink {
  grew(delta: number): void;
  fit(): void;
}

export class FunctionCache {
  #maxBytes: number;
  readonly #entries: LRUCache<string, Entry>;
  #bytes = 0;
  #dropped = false;

  readonly #store: StoreLink | undefined;

  constructor(maxBytes: number, store?: StoreLink) {
    this.#maxBytes = maxBytes;
    this.#store = store;
    // Bounded here rather than by lru-cache's maxSize, which cannot change: a redeploy may resize.
    this.#entries = new LRUCache<string, Entry>({
      maxSize: Number.MAX_SAFE_INTEGER,
      sizeCalculation: (entry) => entry.size,
      // Counting only: evicting from in here re-enters lru-cache mid-operation (CacheStore.#fit).
      dispose: (entry) => {
        this.#bytes -= entry.size;
        store?.grew(-entry.size);
      },
      onInsert: (entry) => {
        this.#bytes += entry.size;
        store?.grew(entry.size);
      },
    });
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  resize(maxBytes: number): void {
    this.#maxBytes = maxBytes;
    this.#fit();
  }

  drop(): void {
    this.#dropped = true;
    this.#entries.clear();
  }

  #fit(): void {
    while (this.#bytes > this.#maxBytes && this.#entries.pop() !== undefined);
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** cache.put(): throws CacheError for what the Cache API refuses; a response no shared cache keeps is not kept. */
  put(cacheName: string, request: CacheRequest, response: CachedResponse, now = Date.now()): void {
    const key = keyOf(cacheName, request.url);
    if (request.method !== 'GET') throw new CacheError('Cannot cache response to non-GET request.');
    if (response.status === 206) throw new CacheError('Cannot cache response to a range request (206 Partial Content).');
    // Before any work on them: a put with 9,000 headers and a 30,000-name private= list held the
    // host's loop 0.23 s (a quadratic filter), and 50 of them a request 11 s.
    if (response.headers.length / 2 > 2 * MAX_HEADERS) throw new CacheError(`cache.put: a kept response has at most ${MAX_HEADERS} headers, this one has ${response.headers.length / 2}`);
    const headers = headerMap(response.headers);
    if ((headers.get('vary') ?? '').split(',').some((v) => v.trim() === '*')) throw new CacheError("Cannot cache response with 'Vary: *' header.");
    const verdict = storability(response.status, headers, now);
    if (!verdict.store) {
      // The tenant meant to replace what was there; an answer nobody may keep replaces it with nothing.
      this.#entries.delete(key);
      return;
    }
    const kept = verdict.dropHeaders.length === 0 ? response.headers : withoutHeaders(response.headers, verdict.dropHeaders);
    if (kept.length / 2 > MAX_HEADERS) throw new CacheError(`cache.put: a kept response has at most ${MAX_HEADERS} headers, this one has ${kept.length / 2}`);
    // Headers kept as one string: hundreds of tiny strings would each cost V8 more than their text.
    const packed = JSON.stringify(kept);
    // Strings are counted at two bytes a character: V8 keeps any with a non-Latin-1 character so.
    const size = ENTRY_OVERHEAD_BYTES + 2 * (key.length + response.statusText.length + packed.length) + (response.body?.byteLength ?? 0);
    if (size > this.#maxBytes) {
      throw new CacheError(`cache.put: the response (${size} bytes with its headers) is larger than this function's whole cache (limit cacheMb: ${this.#maxBytes / 1048576} MB)`);
    }
    if (this.#dropped) return;
    this.#entries.set(key, { status: response.status, statusText: response.statusText, headers: packed, body: response.body, expiresAt: now + verdict.ttlMs, size });
    this.#fit();
    this.#store?.fit();
  }

  /** cache.match(): the kept response (or the conditional or range answer to `request`), or undefined. */
  match(cacheName: string, request: CacheRequest, ignoreMethod: boolean, now = Date.now()): CachedResponse | undefined {
    const key = keyOf(cacheName, request.url);
    if (!ignoreMethod && request.method !== 'GET') return undefined;
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    const asked = headerMap(request.headers);
    const flat = JSON.parse(entry.headers) as string[];
    const stored = headerMap(flat);
    const hit = [...flat, 'cf-cache-status', 'HIT'];
    // RFC 9110 §13.2.1: preconditions apply only where the answer would otherwise be a 2xx.
    const success = entry.status >= 200 && entry.status <= 299;
    if (success && notModified(asked, stored)) {
      return { status: 304, statusText: 'Not Modified', headers: withoutHeaders(hit, ['content-length', 'content-type', 'content-encoding']), body: null };
    }
    const range = entry.status === 200 && entry.body && rangeStillApplies(asked, stored) ? byteRange(asked.get('range'), entry.body.byteLength) : undefined;
    if (range === 'unsatisfiable') {
      return { status: 416, statusText: 'Range Not Satisfiable', headers: ['content-range', `bytes */${entry.body!.byteLength}`, 'cf-cache-status', 'HIT'], body: null };
    }
    if (range) {
      const body = entry.body!.slice(range.start, range.end + 1);
      const headers = [...withoutHeaders(hit, ['content-length', 'content-range']), 'content-range', `bytes ${range.start}-${range.end}/${entry.body!.byteLength}`];
      return { status: 206, statusText: 'Partial Content', headers, body };
    }
    // The kept bytes are never handed out: the runtimes copy what they are given into the tenant's heap or channel.
    return { status: entry.status, statusText: entry.statusText, headers: hit, body: entry.body };
  }

  /** cache.delete(): whether a response was kept for `request`. */
  delete(cacheName: string, request: CacheRequest, ignoreMethod: boolean): boolean {
    if (!ignoreMethod && request.method !== 'GET') return false;
    return this.#entries.delete(keyOf(cacheName, request.url));
  }

  /** Drops the least recently used entry; false when there is none. */
  evictOne(): boolean {
    return this.#entries.pop() !== undefined;
  }
}

function keyOf(cacheName: string, url: string): string {
  if (cacheName.length > MAX_CACHE_NAME) throw new CacheError(`cache names are at most ${MAX_CACHE_NAME} characters`);
  if (!/^https?:/i.test(url)) throw new CacheError(`the Cache API keeps only http and https URLs, not ${JSON.stringify(url.slice(0, 64))}`);
  // The fragment never reaches a server: the same resource with or without it.
  const hash = url.indexOf('#');
  return `${cacheName}\n${hash === -1 ? url : url.slice(0, hash)}`;
}

/** Flat headers as a map of lower-case names (repeated ones joined as the Fetch standard combines them). */
function headerMap(flat: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    const previous = map.get(name);
    map.set(name, previous === undefined ? flat[i + 1]! : `${previous}, ${flat[i + 1]}`);
  }
  return map;
}

function withoutHeaders(flat: string[], names: string[]): string[] {
  const dropped = new Set(names);
  const out: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) if (!dropped.has(flat[i]!.toLowerCase())) out.push(flat[i]!, flat[i + 1]!);
  return out;
}
