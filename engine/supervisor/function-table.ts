// The functions the supervisor keeps for its engines: those of the config file and every deploy
// or removal made through the admin API since (engines report them in the order they succeeded),
// so that an engine that replaces a dead one starts with all of them.
import type { FunctionConfig } from '../engine.ts';

export class FunctionTable {
  readonly #functions = new Map<string, FunctionConfig>();

  constructor(initial: Record<string, FunctionConfig> = {}) {
    for (const [name, config] of Object.entries(initial)) this.#functions.set(name, config);
  }

  /** Keeps `config` for `name`; undefined: removed. */
  set(name: string, config: FunctionConfig | undefined): void {
    if (config) this.#functions.set(name, config);
    else this.#functions.delete(name);
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
