// Which of overlapping deploys of one function takes effect. The one that started last decides,
// as long as it has not failed: a deploy that fails to bundle or load must not cancel an earlier,
// valid one still loading (nothing would be deployed). A removal counts as a deploy that took
// effect at once.

interface Deploys {
  next: number;
  /** Deploys still loading, and the one that took effect last. */
  live: Set<number>;
}

export class DeployOrder {
  readonly #byName = new Map<string, Deploys>();

  /** A deploy of `name` starts: its number, for the calls below. */
  start(name: string): number {
    let deploys = this.#byName.get(name);
    if (!deploys) this.#byName.set(name, (deploys = { next: 0, live: new Set() }));
    const seq = ++deploys.next;
    deploys.live.add(seq);
    return seq;
  }

  /** The deploy failed before it took effect: it no longer stands in an earlier one's way. */
  failed(name: string, seq: number): void {
    this.#byName.get(name)?.live.delete(seq);
  }

  /** True when no deploy that started later is still loading or took effect. */
  decides(name: string, seq: number): boolean {
    for (const other of this.#byName.get(name)?.live ?? []) if (other > seq) return false;
    return true;
  }

  /** The deploy took effect: those that started before it are superseded. */
  tookEffect(name: string, seq: number): void {
    this.#byName.get(name)?.live.forEach((other, _, live) => { if (other < seq) live.delete(other); });
  }

  /** The function was removed: every deploy still loading is superseded. */
  removed(name: string): void {
    this.tookEffect(name, this.start(name));
  }
}
