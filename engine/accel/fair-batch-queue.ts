// One model's queue: calls wait here until a batch goes out, and each batch is filled round-robin
// across tenants — one call from each tenant with calls waiting, then another round — starting
// with the tenants the previous batch reached last. A tenant with a thousand calls queued gets no
// bigger share of a batch than one with a single call, so it cannot starve anyone. Batches are
// bounded by their calls' cost (input bytes) as well as their count: every call in a batch waits
// for the whole of it, so a call bigger than the bound runs alone, and a small one never waits
// behind more than one batch's worth of another tenant's big ones.

export interface QueuedCall {
  readonly tenant: string;
  /** When the call was queued, in µs on performance.now()'s clock. */
  readonly queuedUs: number;
  /** What it weighs against maxBatchCost (its input bytes), at least 1. */
  readonly cost: number;
}

export interface FairBatchQueueOptions {
  maxBatch: number;
  /** How long the oldest call waits for others before its batch goes anyway. */
  maxWaitUs: number;
  /** Most calls queued; push refuses beyond it. */
  maxQueued: number;
  /** Most cost one batch carries (a first call bigger than it goes alone); no bound when left out. */
  maxBatchCost?: number;
}

export class FairBatchQueue<C extends QueuedCall> {
  readonly options: Readonly<FairBatchQueueOptions>;
  /** Tenants in the order their next call is taken; each list is in arrival order. */
  readonly #byTenant = new Map<string, C[]>();
  #size = 0;

  constructor(options: FairBatchQueueOptions) {
    this.options = options;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Queues `call`; false when the queue is full. A full queue makes room, when `displace` is
   * given, by taking out the newest call of the tenant with the most queued, if that is more than
   * this tenant's would be (the call is handed to `displace` to answer). Otherwise a few tenants at
   * their quota could hold every place: twenty tenants of 64 calls each kept another 200 single
   * calls from ten tenants out, all refused while theirs were served.
   */
  push(call: C, displace?: (displaced: C) => void): boolean {
    if (this.#size >= this.options.maxQueued) {
      const own = this.#byTenant.get(call.tenant)?.length ?? 0;
      let heaviest: C[] | undefined;
      for (const list of this.#byTenant.values()) if (!heaviest || list.length > heaviest.length) heaviest = list;
      if (!displace || !heaviest || heaviest.length <= own + 1) return false;
      // Still at least `own + 1` calls left in that list: it stays in the map, and in its place.
      const displaced = heaviest.pop()!;
      this.#size--;
      displace(displaced);
    }
    const list = this.#byTenant.get(call.tenant);
    if (list) list.push(call);
    else this.#byTenant.set(call.tenant, [call]);
    this.#size++;
    return true;
  }

  /** Takes `call` out (it was cancelled); false when it was not queued. */
  remove(call: C): boolean {
    const list = this.#byTenant.get(call.tenant);
    const i = list?.indexOf(call) ?? -1;
    if (i < 0) return false;
    list!.splice(i, 1);
    if (list!.length === 0) this.#byTenant.delete(call.tenant);
    this.#size--;
    return true;
  }

  /** µs until a batch should go: 0 when full enough or waited long enough, Infinity when empty. */
  waitUs(nowUs: number): number {
    if (this.#size === 0) return Infinity;
    if (this.#size >= this.options.maxBatch) return 0;
    let oldest = Infinity;
    for (const list of this.#byTenant.values()) oldest = Math.min(oldest, list[0]!.queuedUs);
    return Math.max(0, oldest + this.options.maxWaitUs - nowUs);
  }

  /** The next batch: up to maxBatch calls and maxBatchCost, round-robin across tenants. */
  take(): C[] {
    const batch: C[] = [];
    const served: string[] = [];
    const maxCost = this.options.maxBatchCost ?? Infinity;
    let cost = 0;
    let took = true;
    while (took && batch.length < this.options.maxBatch && this.#byTenant.size > 0) {
      took = false;
      for (const [tenant, list] of this.#byTenant) {
        // A tenant whose next call would pass the cost bound waits for the next batch (in order:
        // its later calls wait behind it); a batch always takes its first call.
        if (batch.length > 0 && cost + list[0]!.cost > maxCost) continue;
        const call = list.shift()!;
        batch.push(call);
        cost += call.cost;
        took = true;
        if (!served.includes(tenant)) served.push(tenant);
        if (list.length === 0) this.#byTenant.delete(tenant);
        if (batch.length === this.options.maxBatch) break;
      }
    }
    // Tenants this batch reached go to the back, so the next batch starts with the others.
    for (const tenant of served) {
      const list = this.#byTenant.get(tenant);
      if (list) {
        this.#byTenant.delete(tenant);
        this.#byTenant.set(tenant, list);
      }
    }
    this.#size -= batch.length;
    return batch;
  }
}
