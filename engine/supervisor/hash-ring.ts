// Consistent hashing with bounded load (Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing
// with Bounded Loads", SODA 2018), for N engine processes: each function has a home engine, so its
// warm isolates, code and replicas stay in one process, and keeps it while engines come and go.
// A function whose home is busier than its share may spill to the next engine on the ring, and
// only to that one, so that its isolates live in at most two processes.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';

export interface HashRingOptions {
  /** Engines on the ring: indexes 0..engines-1. */
  engines: number;
  /** Points per engine on the ring; more points spread functions more evenly. Default 64. */
  pointsPerEngine?: number;
  /** An engine may carry (1 + ε) × the average load before its functions spill. Default 0.25. */
  epsilon?: number;
  /** No spill while the home carries fewer requests in flight than this. Default 32. */
  minSpillLoad?: number;
  /** Names whose engines are remembered (the most recently routed). Default 65,536. */
  cachedNames?: number;
}

export const HASH_RING_DEFAULTS = { pointsPerEngine: 64, epsilon: 0.25, minSpillLoad: 32, cachedNames: 65_536 } as const;

export class HashRing {
  readonly engines: number;
  readonly #points: Uint32Array;
  readonly #owners: Uint16Array;
  readonly #epsilon: number;
  readonly #minSpillLoad: number;
  /**
   * name → [home, spill], cached: hashing a name costs more than routing it. Bounded: every
   * request's Host names a "function" before anyone knows whether it exists, so a client sending
   * endless made-up hosts would otherwise grow it without end.
   */
  readonly #cache: LRUCache<string, readonly [number, number]>;

  constructor(options: HashRingOptions) {
    if (!Number.isInteger(options.engines) || options.engines < 1 || options.engines > 1024) throw new RangeError('engines must be an integer from 1 to 1024');
    this.engines = options.engines;
    this.#cache = new LRUCache({ max: options.cachedNames ?? HASH_RING_DEFAULTS.cachedNames });
    this.#epsilon = options.epsilon ?? HASH_RING_DEFAULTS.epsilon;
    this.#minSpillLoad = options.minSpillLoad ?? HASH_RING_DEFAULTS.minSpillLoad;
    const per = options.pointsPerEngine ?? HASH_RING_DEFAULTS.pointsPerEngine;
    const points: [number, number][] = [];
    for (let e = 0; e < this.engines; e++) {
      for (let p = 0; p < per; p++) points.push([hash32(`engine-${e}#${p}`), e]);
    }
    points.sort((a, b) => a[0] - b[0]);
    this.#points = Uint32Array.from(points, (p) => p[0]);
    this.#owners = Uint16Array.from(points, (p) => p[1]);
  }

  /** The function's home engine and the one it spills to (the same with one engine). */
  candidates(name: string): readonly [home: number, spill: number] {
    let pair = this.#cache.get(name);
    if (!pair) {
      const h = hash32(name);
      // First point at or after h, wrapping round.
      let lo = 0;
      let hi = this.#points.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.#points[mid]! < h) lo = mid + 1;
        else hi = mid;
      }
      const start = lo % this.#points.length;
      const home = this.#owners[start]!;
      let spill = home;
      for (let i = 1; i < this.#points.length && spill === home; i++) spill = this.#owners[(start + i) % this.#points.length]!;
      pair = [home, spill];
      this.#cache.set(name, pair);
    }
    return pair;
  }

  home(name: string): number {
    return this.candidates(name)[0];
  }

  /**
   * Where a request for `name` goes, given each engine's requests in flight: its home, unless
   * the home is over its bound and the spill engine is not.
   */
  pick(name: string, load: ArrayLike<number>): number {
    const [home, spill] = this.candidates(name);
    if (home === spill) return home;
    const homeLoad = load[home]!;
    if (homeLoad < this.#minSpillLoad) return home;
    let total = 1;
    for (let i = 0; i < load.length; i++) total += load[i]!;
    const bound = Math.ceil(((1 + this.#epsilon) * total) / this.engines);
    return homeLoad >= bound && load[spill]! < bound ? spill : home;
  }

  /** Names whose engines are remembered now. */
  get cachedNames(): number {
    return this.#cache.size;
  }

  forget(name: string): void {
    this.#cache.delete(name);
  }
}

function hash32(s: string): number {
  return createHash('md5').update(s).digest().readUInt32BE(0);
}
