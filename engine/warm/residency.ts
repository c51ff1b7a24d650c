// Which functions keep a live isolate: the keep-alive policy (unload idle ones, pre-warm before a
// predicted request), the live-isolate cap (V8 aborts the process near 4,065 isolates) and the
// memory bound. The engine owns the function table; this decides over it.
import type { Logger } from 'pino';
import { SandboxUnavailableError } from '../errors.ts';
import type { Sandbox } from '../tiers/tier.ts';
import type { KeepAlivePolicy } from './keep-alive.ts';

/** The part of a deployed function residency looks at and changes. */
export interface ResidentSlot {
  readonly name: string;
  sandbox: Sandbox | undefined;
  starting: Promise<Sandbox> | undefined;
  /** When it last got a request (Date.now()). */
  lastUseMs: number;
  /** Pre-warm at this time (Date.now()) if still unloaded, as the keep-alive policy asked. */
  prewarmAt?: number;
}

/** What residency has done since the engine started. */
export interface ResidencyStats {
  /** Requests that had to boot their function's isolate first. */
  coldStarts: number;
  /** Isolates booted ahead of a predicted request. */
  prewarms: number;
  /** Idle isolates unloaded by the keep-alive policy. */
  unloads: number;
  /** Idle isolates evicted to stay under the live isolate cap or the memory bound. */
  evictions: number;
}

export interface ResidencyOptions {
  maxLive: number;
  maxRssBytes: number;
  readRss: () => number;
  /** Mappings the process may hold before idle isolates are evicted (Infinity: not watched). */
  maxMappings: number;
  readMappings: () => number;
  keepAlive: KeepAlivePolicy;
  logger: Logger;
  /** Boots a slot's isolate again (used for pre-warming). */
  restart: (slot: ResidentSlot) => Promise<unknown>;
}

/** How long an evicted isolate lives on before it is disposed (see makeRoom). */
const EVICTION_DELAY_MS = 10;

export class Residency {
  readonly stats: ResidencyStats = { coldStarts: 0, prewarms: 0, unloads: 0, evictions: 0 };
  readonly #o: ResidencyOptions;

  constructor(options: ResidencyOptions) {
    this.#o = options;
  }

  /** A request arrived for `slot`: the policy learns from the idle gap before it, if any. */
  arrived(slot: ResidentSlot, now: number): void {
    if (!slot.sandbox || slot.sandbox.inFlight === 0) this.#o.keepAlive.recordArrival(slot.name, now - slot.lastUseMs);
    slot.lastUseMs = now;
    if (!slot.sandbox?.alive) this.stats.coldStarts++;
  }

  forget(name: string): void {
    this.#o.keepAlive.forget(name);
  }

  live(slots: Iterable<ResidentSlot>): number {
    let n = 0;
    for (const slot of slots) if (slot.sandbox?.alive || slot.starting) n++;
    return n;
  }

  /**
   * Before booting a sandbox: at the cap, evict the least recently used idle one (its next
   * request boots it again). With none idle the boot is refused rather than risk V8's abort.
   */
  makeRoom(slots: Iterable<ResidentSlot>): void {
    let live = 0;
    let victim: ResidentSlot | undefined;
    for (const slot of slots) {
      if (slot.starting) live++;
      if (!slot.sandbox?.alive) continue;
      live++;
      if (slot.sandbox.inFlight === 0 && (!victim || slot.lastUseMs < victim.lastUseMs)) victim = slot;
    }
    if (live < this.#o.maxLive) return;
    if (!victim) throw new SandboxUnavailableError(`all ${this.#o.maxLive} isolates this process may hold are busy`);
    this.#o.logger.info({ fn: victim.name, live }, 'isolate evicted to stay under the live isolate cap');
    this.stats.evictions++;
    // Disposing an isolate holds the event loop for a while; the request that needed the room
    // should not wait for it. It is idle, so nothing is lost in the meantime.
    const evicted = victim.sandbox!;
    victim.sandbox = undefined;
    setTimeout(() => evicted.stop(), EVICTION_DELAY_MS).unref();
  }

  /**
   * Applies the keep-alive policy — unloads idle isolates whose time is up (or that the policy
   * wants unloaded until a pre-warm), boots those whose pre-warm time has come — then the memory
   * bound.
   */
  sweep(functions: Iterable<ResidentSlot>, now: number): void {
    const slots = [...functions];
    for (const slot of slots) {
      const sandbox = slot.sandbox;
      if (sandbox?.alive) {
        if (sandbox.inFlight > 0) continue;
        const idle = now - slot.lastUseMs;
        const decision = this.#o.keepAlive.decide(slot.name);
        const early = decision.prewarmAfterMs !== undefined && idle < decision.prewarmAfterMs;
        if (!early && idle <= decision.keepAliveMs) continue;
        if (early) slot.prewarmAt = slot.lastUseMs + decision.prewarmAfterMs!;
        slot.sandbox = undefined;
        sandbox.stop();
        this.stats.unloads++;
      } else if (!slot.starting && slot.prewarmAt !== undefined && now >= slot.prewarmAt) {
        slot.prewarmAt = undefined;
        this.stats.prewarms++;
        this.#o.restart(slot).catch((err: unknown) => this.#o.logger.warn({ fn: slot.name, err }, 'pre-warm failed'));
      }
    }
    this.#relieveMemory(slots);
    this.#relieveMappings(slots);
  }

  /**
   * Over a bound (RSS, or memory mappings — see MAPPINGS_PER_ISOLATE in limits.ts), evict idle
   * isolates, least recently used first: as many as the overshoot divided by the average
   * isolate's share (freed memory reaches the OS late, so waiting for the reading itself to drop
   * would evict far too many).
   */
  #relieveMemory(slots: ResidentSlot[]): void {
    const rss = this.#o.readRss();
    if (rss > this.#o.maxRssBytes) this.#evictForOvershoot(slots, rss, this.#o.maxRssBytes, { rssMb: Math.round(rss / 1048576) }, 'memory bound');
  }

  #relieveMappings(slots: ResidentSlot[]): void {
    if (!Number.isFinite(this.#o.maxMappings)) return;
    const maps = this.#o.readMappings();
    if (maps > this.#o.maxMappings) this.#evictForOvershoot(slots, maps, this.#o.maxMappings, { mappings: maps }, 'memory-mapping budget');
  }

  #evictForOvershoot(slots: ResidentSlot[], reading: number, bound: number, fields: Record<string, number>, what: string): void {
    const live = this.live(slots);
    const idle = slots.filter((slot) => slot.sandbox?.alive && slot.sandbox.inFlight === 0).sort((a, b) => a.lastUseMs - b.lastUseMs);
    if (idle.length === 0 || live === 0) return;
    const count = Math.min(idle.length, Math.ceil((reading - bound) / (reading / live)));
    for (const slot of idle.slice(0, count)) {
      const sandbox = slot.sandbox!;
      slot.sandbox = undefined;
      sandbox.stop();
      this.stats.evictions++;
    }
    this.#o.logger.warn({ ...fields, evicted: count }, `${what} passed: idle isolates evicted`);
  }
}
