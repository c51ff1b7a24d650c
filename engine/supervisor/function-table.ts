// The functions the supervisor keeps for its engines: those of the config file and every deploy
// made through the admin API since, so that an engine that replaces a dead one starts with all
// of them. Admin writes are recorded in the order they arrived, whatever order engines answer in.
import type { FunctionConfig } from '../engine.ts';

export class FunctionTable {
  readonly #functions = new Map<string, FunctionConfig>();
  /** Per name: the sequence number of the last write begun, and of the one recorded. */
  readonly #begun = new Map<string, number>();
  readonly #recorded = new Map<string, number>();

  constructor(initial: Record<string, FunctionConfig> = {}) {
    for (const [name, config] of Object.entries(initial)) this.#functions.set(name, config);
  }

  /** A write to `name` is about to be sent to an engine: its place in line. */
  begin(name: string): number {
    const seq = (this.#begun.get(name) ?? 0) + 1;
    this.#begun.set(name, seq);
    return seq;
  }

  /** The engine accepted write `seq`: keep `config` (undefined: removed) unless a later write was recorded. */
  commit(name: string, seq: number, config: FunctionConfig | undefined): boolean {
    if ((this.#recorded.get(name) ?? 0) > seq) return false;
    this.#recorded.set(name, seq);
    if (config) this.#functions.set(name, config);
    else this.#functions.delete(name);
    return true;
  }

  get(name: string): FunctionConfig | undefined {
    return this.#functions.get(name);
  }

  get size(): number {
    return this.#functions.size;
  }

  entries(filter: (name: string) => boolean = () => true): [string, FunctionConfig][] {
    return [...this.#functions].filter(([name]) => filter(name));
  }
}
