// Which of overlapping deploys of one function takes effect. The one that started last decides,
// as long as it has not failed: a deploy that fails to bundle or load must not cancel an earlier,
// valid one still loading (nothing would be deployed). A deploy that takes effect, or a removal,
// supersedes those that started before it. Only deploys still loading are kept, so a name leaves
// no trace once nothing of it is loading.

/** One deploy, from start() until it failed or took effect. */
export interface PendingDeploy {
  readonly seq: number;
  superseded: boolean;
  /** Resolves once it failed or took effect. */
  readonly settled: Promise<void>;
  settle(): void;
}

export class DeployOrder {
  #next = 0;
  readonly #loading = new Map<string, Set<PendingDeploy>>();

  /** A deploy of `name` starts. */
  start(name: string): PendingDeploy {
    const { promise, resolve } = Promise.withResolvers<void>();
    const deploy = { seq: ++this.#next, superseded: false, settled: promise, settle: resolve };
    let loading = this.#loading.get(name);
    if (!loading) this.#loading.set(name, (loading = new Set()));
    loading.add(deploy);
    return deploy;
  }

  /** The deploy failed before it took effect: it no longer stands in an earlier one's way. */
  failed(name: string, deploy: PendingDeploy): void {
    this.#settle(name, deploy);
  }

  /**
   * Waits while deploys that started after this one are still loading: if they all fail, this one
   * still decides (a broken later deploy must not leave nothing deployed).
   */
  async laterSettled(name: string, deploy: PendingDeploy): Promise<void> {
    for (;;) {
      const later = [...(this.#loading.get(name) ?? [])].filter((other) => other.seq > deploy.seq);
      if (later.length === 0 || deploy.superseded) return;
      await Promise.all(later.map((other) => other.settled));
    }
  }

  /** True unless a later deploy (or a removal) took effect, or one that started later is still loading. */
  decides(name: string, deploy: PendingDeploy): boolean {
    if (deploy.superseded) return false;
    for (const other of this.#loading.get(name) ?? []) if (other.seq > deploy.seq) return false;
    return true;
  }

  /** The deploy took effect: those that started before it are superseded. */
  tookEffect(name: string, deploy: PendingDeploy): void {
    for (const other of this.#loading.get(name) ?? []) if (other.seq < deploy.seq) other.superseded = true;
    this.#settle(name, deploy);
  }

  /** The function was removed: every deploy of it still loading is superseded. */
  removed(name: string): void {
    for (const other of this.#loading.get(name) ?? []) other.superseded = true;
  }

  /** Names with a deploy loading (what this keeps). */
  get loading(): number {
    return this.#loading.size;
  }

  #settle(name: string, deploy: PendingDeploy): void {
    deploy.settle();
    const loading = this.#loading.get(name);
    loading?.delete(deploy);
    if (loading?.size === 0) this.#loading.delete(name);
  }
}
