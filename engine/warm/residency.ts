// Which isolates stay live: the keep-alive policy (unload idle functions, pre-warm before a
// predicted request), the live-isolate cap (V8 aborts the process near 4,065 isolates) and the
// memory bound. The engine owns the function table and the scheduler each function's replicas;
// this decides which replicas go. Under pressure the least valuable idle isolates go first: a
// function's extra replicas before any function's last one, least recently used first.
import type { Logger } from 'pino';
import { NoRoomError } from '../errors.ts';
import type { Replica, ReplicaSet } from '../sched/index.ts';
import type { KeepAlivePolicy } from './keep-alive.ts';

/** The part of a deployed function residency looks at and changes. */
export interface ResidentSlot {
  readonly name: string;
  readonly replicas: ReplicaSet;
  /** When it last got a request (Date.now()). */
  lastUseMs: number;
  /** Pre-warm at this time (Date.now()) if still unloaded, as the keep-alive policy asked. */
  prewarmAt?: number;
  /** Requests waiting in its queue (for the engine's in-flight cap, say): its idle isolates are about to be used. */
  readonly waiting?: number;
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
  /** Idle collections started in isolates whose function had no request for idleGcAfterMs. */
  reclaims: number;
}

export interface ResidencyOptions {
  maxLive: number;
  maxRssBytes: number;
  readRss: () => number;
  /** Mappings the process may hold before idle isolates are evicted (Infinity: not watched). */
  maxMappings: number;
  readMappings: () => number;
  keepAlive: KeepAlivePolicy;
  /** A function idle this long has its idle sandboxes reclaim memory (Sandbox.reclaim). */
  idleGcAfterMs: number;
  /** Most reclaims one sweep starts. */
  idleGcsPerSweep: number;
  logger: Logger;
  /** Boots a replica for a slot that has none (pre-warming). */
  prewarm: (slot: ResidentSlot) => void;
}

interface IdleReplica {
  slot: ResidentSlot;
  replica: Replica;
  /** Another replica of the same function stays warm without it. */
  extra: boolean;
}

/** Least valuable first: extra replicas before last ones, then least recently used. */
function byValue(a: IdleReplica, b: IdleReplica): number {
  return a.extra === b.extra ? a.replica.lastUse - b.replica.lastUse : Number(b.extra) - Number(a.extra);
}

/** How long an evicted isolate lives on before it is disposed (see makeRoom). */
const EVICTION_DELAY_MS = 10;

export class Residency {
  readonly stats: ResidencyStats = { coldStarts: 0, prewarms: 0, unloads: 0, evictions: 0, reclaims: 0 };
  readonly #o: ResidencyOptions;

  constructor(options: ResidencyOptions) {
    this.#o = options;
  }

  /**
   * A request arrived for `slot`: the policy learns from the idle gap before it, if any. Returns
   * whether it is a cold start (no replica of the function is live).
   */
  arrived(slot: ResidentSlot, now: number): boolean {
    if (slot.replicas.inFlight === 0) this.#o.keepAlive.recordArrival(slot.name, now - slot.lastUseMs);
    slot.lastUseMs = now;
    if (slot.replicas.warm) return false;
    this.stats.coldStarts++;
    return true;
  }

  forget(name: string): void {
    this.#o.keepAlive.forget(name);
  }

  live(slots: Iterable<ResidentSlot>): number {
    let n = 0;
    for (const slot of slots) n += slot.replicas.live;
    return n;
  }

  /**
   * Before booting a sandbox: at the cap, evict the least valuable idle replica (its function's
   * next request boots it again). With none idle the boot is refused (NoRoomError) rather than risk
   * V8's abort; the scheduler keeps the request queued until an isolate goes idle.
   */
  makeRoom(slots: () => Iterable<ResidentSlot>, booting = 0): void {
    // Counting is cheap; ranking every idle replica is not, and is only needed at the cap.
    // `booting`: sandboxes being started that no function's replicas count yet (deploys).
    const live = this.live(slots()) + booting;
    if (live < this.#o.maxLive) return;
    let victim: IdleReplica | undefined;
    for (const slot of slots()) {
      for (const candidate of idleReplicas(slot)) if (!victim || byValue(candidate, victim) < 0) victim = candidate;
    }
    if (!victim) throw new NoRoomError(`all ${this.#o.maxLive} isolates this process may hold are busy`);
    this.#o.logger.info({ fn: victim.slot.name, live, extra: victim.extra }, 'isolate evicted to stay under the live isolate cap');
    this.stats.evictions++;
    // Disposing an isolate holds the event loop for a while; the request that needed the room
    // should not wait for it. It is idle, so nothing is lost in the meantime.
    const evicted = victim.slot.replicas.remove(victim.replica);
    setTimeout(() => evicted.stop(), EVICTION_DELAY_MS).unref();
  }

  /**
   * Applies the keep-alive policy — unloads idle isolates whose time is up (or that the policy
   * wants unloaded until a pre-warm), boots those whose pre-warm time has come — then the memory
   * bound, then has those idle for idleGcAfterMs give memory back.
   */
  sweep(functions: Iterable<ResidentSlot>, now: number): void {
    const slots = [...functions];
    for (const slot of slots) {
      const replicas = slot.replicas;
      if (replicas.warm) {
        if (replicas.inFlight > 0 || replicas.booting > 0 || replicas.held > 0) continue;
        const idle = now - slot.lastUseMs;
        const decision = this.#o.keepAlive.decide(slot.name);
        const early = decision.prewarmAfterMs !== undefined && idle < decision.prewarmAfterMs;
        if (!early && idle <= decision.keepAliveMs) continue;
        if (early) slot.prewarmAt = slot.lastUseMs + decision.prewarmAfterMs!;
        for (const sandbox of replicas.clear()) sandbox.stop();
        this.stats.unloads++;
      } else if (replicas.booting === 0 && slot.prewarmAt !== undefined && now >= slot.prewarmAt) {
        slot.prewarmAt = undefined;
        this.stats.prewarms++;
        this.#o.prewarm(slot);
      }
    }
    this.#relieveCap(slots);
    this.#relieveMemory(slots);
    this.#relieveMappings(slots);
    this.#reclaimIdle(slots, now);
  }

  #reclaimIdle(slots: ResidentSlot[], now: number): void {
    let started = 0;
    for (const slot of slots) {
      if (now - slot.lastUseMs < this.#o.idleGcAfterMs) continue;
      for (const { replica } of idleReplicas(slot)) {
        if (started >= this.#o.idleGcsPerSweep) return;
        if (!replica.sandbox.reclaim?.()) continue;
        started++;
        this.stats.reclaims++;
      }
    }
  }

  /**
   * Over a bound (RSS, or memory mappings — see MAPPINGS_PER_ISOLATE in limits.ts), evict idle
   * isolates, least valuable first: as many as the overshoot divided by the average
   * isolate's share (freed memory reaches the OS late, so waiting for the reading itself to drop
   * would evict far too many).
   */
  #relieveMemory(slots: ResidentSlot[]): void {
    const rss = this.#o.readRss();
    if (rss > this.#o.maxRssBytes) this.#evictForOvershoot(slots, rss, this.#o.maxRssBytes, { rssMb: Math.round(rss / 1048576) }, 'memory bound');
  }

  /**
   * Past the live isolate cap (boots that each found room while others were under way), idle
   * isolates are evicted down to it: makeRoom only ever evicts one for one, so an overshoot would
   * otherwise last.
   */
  #relieveCap(slots: ResidentSlot[]): void {
    const live = this.live(slots);
    if (live > this.#o.maxLive) this.#evictForOvershoot(slots, live, this.#o.maxLive, { live }, 'live isolate cap');
  }

  #relieveMappings(slots: ResidentSlot[]): void {
    if (!Number.isFinite(this.#o.maxMappings)) return;
    const maps = this.#o.readMappings();
    if (maps > this.#o.maxMappings) this.#evictForOvershoot(slots, maps, this.#o.maxMappings, { mappings: maps }, 'memory-mapping budget');
  }

  #evictForOvershoot(slots: ResidentSlot[], reading: number, bound: number, fields: Record<string, number>, what: string): void {
    const live = this.live(slots);
    const idle = slots.flatMap(idleReplicas).sort(byValue);
    if (idle.length === 0 || live === 0) return;
    const count = Math.min(idle.length, Math.ceil((reading - bound) / (reading / live)));
    for (const { slot, replica } of idle.slice(0, count)) {
      slot.replicas.remove(replica).stop();
      this.stats.evictions++;
    }
    this.#o.logger.warn({ ...fields, evicted: count }, `${what} passed: idle isolates evicted`);
  }
}

function idleReplicas(slot: ResidentSlot): IdleReplica[] {
  // A function with requests waiting is not idle: evicting its isolate made the next function's
  // boot evict it back, tick after tick, while the in-flight cap held them all (72 evictions
  // in 1.5 s for three functions waiting).
  if (slot.waiting) return [];
  const all = slot.replicas.all;
  const out: IdleReplica[] = [];
  for (const replica of all) if (replica.sandbox.inFlight === 0 && !replica.sandbox.held) out.push({ slot, replica, extra: all.length > 1 });
  return out;
}
