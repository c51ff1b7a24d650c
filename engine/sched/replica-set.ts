// A function's replicas: the sandboxes (isolates) serving it now, and how many are booting.
// Requests go to the least loaded replica with room under the function's concurrency limit, so
// async handlers interleave in one isolate and CPU-bound work spreads over several, each on its
// own thread. The scheduler decides when to add or retire one; residency when to evict one.
import type { Sandbox } from '../tiers/tier.ts';

/** Uses in order, engine-wide: recency for eviction without a clock read per request. */
let uses = 0;

export interface Replica {
  readonly sandbox: Sandbox;
  /** When it last took a request, as a use sequence number: residency evicts the lowest first. */
  lastUse: number;
  /** Its CPU clock at the scheduler's last tick, in ns. */
  cpuSeenNs: number;
  /** Share of the last tick its thread spent running it (0..1). */
  busyShare: number;
}

export class ReplicaSet {
  readonly #replicas: Replica[] = [];
  /** Boots in progress (they count against the live-isolate cap already). */
  booting = 0;
  /** CPU of replicas that are gone, in ns, so a function's CPU total only grows. */
  retiredCpuNs = 0;

  /** Live replicas, in boot order; dead ones are dropped on the way. */
  get all(): readonly Replica[] {
    this.#prune();
    return this.#replicas;
  }

  /** Replicas alive, plus boots in progress. */
  get live(): number {
    return this.all.length + this.booting;
  }

  get warm(): boolean {
    return this.all.length > 0;
  }

  get inFlight(): number {
    let n = 0;
    for (const r of this.#replicas) n += r.sandbox.inFlight;
    return n;
  }

  /** Connections held open (WebSockets) by all its replicas. */
  get held(): number {
    let n = 0;
    for (const r of this.#replicas) n += r.sandbox.held ?? 0;
    return n;
  }

  /** `replica` takes a request now. */
  static touch(replica: Replica): void {
    replica.lastUse = ++uses;
  }

  /** The least loaded live replica with fewer than `concurrency` requests in flight. */
  pick(concurrency: number): Replica | undefined {
    let best: Replica | undefined;
    let bestLoad = concurrency;
    for (let i = 0; i < this.#replicas.length; i++) {
      const replica = this.#replicas[i]!;
      if (!replica.sandbox.alive) {
        this.#drop(i--);
        continue;
      }
      const load = replica.sandbox.inFlight;
      if (load < bestLoad) {
        best = replica;
        bestLoad = load;
        if (load === 0) break;
      }
    }
    return best;
  }

  add(sandbox: Sandbox): Replica {
    const replica: Replica = { sandbox, lastUse: ++uses, cpuSeenNs: sandbox.usage?.().cpuNs ?? 0, busyShare: 0 };
    this.#replicas.push(replica);
    return replica;
  }

  /** Takes `replica` out of service (the caller stops or retires its sandbox). */
  remove(replica: Replica): Sandbox {
    const i = this.#replicas.indexOf(replica);
    if (i >= 0) this.#drop(i);
    return replica.sandbox;
  }

  /** Takes every replica out of service and returns their sandboxes. */
  clear(): Sandbox[] {
    this.#prune();
    const sandboxes = this.#replicas.map((r) => r.sandbox);
    while (this.#replicas.length) this.#drop(this.#replicas.length - 1);
    return sandboxes;
  }

  /** CPU used by every replica the function has had, in ns. */
  cpuNs(): number {
    const live = this.all; // first: pruning retires the dead ones' CPU
    let total = this.retiredCpuNs;
    for (const r of live) total += r.sandbox.usage?.().cpuNs ?? 0;
    return total;
  }

  heapBytes(): number {
    let total = 0;
    for (const r of this.all) total += r.sandbox.usage?.().heapBytes ?? 0;
    return total;
  }

  #prune(): void {
    for (let i = this.#replicas.length - 1; i >= 0; i--) if (!this.#replicas[i]!.sandbox.alive) this.#drop(i);
  }

  #drop(i: number): void {
    const [replica] = this.#replicas.splice(i, 1);
    this.retiredCpuNs += replica!.sandbox.usage?.().cpuNs ?? 0;
  }
}
