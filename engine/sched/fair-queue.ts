// Fair sharing of the engine's in-flight capacity between functions whose requests wait: deficit
// round robin (Shreedhar & Varghese, SIGCOMM '95) over the per-function queues. The resource the
// in-flight cap shares is slot time, so a request's cost is how long its function's requests
// hold a slot (the scheduler measures it). Each round a waiting function earns a quantum and
// sends requests while its deficit covers them: a flood of cheap or of slow requests gets the
// same share of slot time as a light tenant's occasional request, never more, and the light
// tenant waits at most one round. Chosen over WFQ because it is O(1) per request and needs no
// virtual clock or sorted structure: requests are only ever taken from queue heads.

/** A function's queue as the round robin sees it. */
export interface Flow {
  /** Requests waiting (only the length is read here). */
  readonly waiting: number;
  /** What the flow may still spend this round, in ns. */
  deficitNs: number;
  /** What its next request is expected to cost, in ns. */
  readonly costNs: number;
  /** Whether it is in the round now (kept by the round robin). */
  inRound: boolean;
}

export class DeficitRoundRobin<F extends Flow> {
  readonly #active: F[] = [];
  readonly #quantumNs: number;
  #cursor = 0;
  /** Whether the flow under the cursor has had this visit's quantum. */
  #credited = false;

  constructor(quantumNs: number) {
    this.#quantumNs = quantumNs;
  }

  /** Flows with requests waiting. */
  get size(): number {
    return this.#active.length;
  }

  /** A flow's queue went from empty to non-empty: it joins the end of the round. */
  activate(flow: F): void {
    if (flow.inRound) return;
    flow.inRound = true;
    flow.deficitNs = 0;
    this.#active.push(flow);
  }

  /**
   * The flow whose head request goes next, its deficit already charged; undefined when every
   * waiting flow is blocked (`canSend` false: no free replica of its own).
   */
  next(canSend: (flow: F) => boolean): F | undefined {
    let blocked = 0;
    while (this.#active.length > 0 && blocked < this.#active.length) {
      if (this.#cursor >= this.#active.length) this.#cursor = 0;
      const flow = this.#active[this.#cursor]!;
      if (flow.waiting === 0) {
        // Its queue emptied (sent, or refused for waiting too long): credit is not banked.
        flow.deficitNs = 0;
        flow.inRound = false;
        this.#active.splice(this.#cursor, 1);
        this.#credited = false;
        continue;
      }
      if (!canSend(flow)) {
        blocked++;
        this.#advance();
        continue;
      }
      if (!this.#credited) {
        flow.deficitNs += this.#quantumNs;
        this.#credited = true;
      }
      if (flow.costNs <= flow.deficitNs) {
        flow.deficitNs -= flow.costNs;
        return flow;
      }
      blocked = 0;
      this.#advance();
    }
    return undefined;
  }

  /** Drops a flow (its function was removed). */
  remove(flow: F): void {
    const i = this.#active.indexOf(flow);
    if (i < 0) return;
    flow.inRound = false;
    this.#active.splice(i, 1);
    if (i < this.#cursor) this.#cursor--;
    else if (i === this.#cursor) this.#credited = false;
  }

  #advance(): void {
    this.#cursor++;
    this.#credited = false;
  }
}
