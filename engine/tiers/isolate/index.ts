// The isolate tier: every function in its own V8 isolate, inside the engine process.
import { runtimeSnapshot, type Snapshot } from '../../warm/index.ts';
import type { IsolationTier, Sandbox, SandboxSpec } from '../tier.ts';
import { IsolateSandbox } from './isolate-sandbox.ts';
import { LimitEnforcer } from './limit-enforcer.ts';

export interface IsolateTierOptions {
  /** Boot isolates from a V8 snapshot of the runtime (default true); off, they evaluate it. */
  snapshot?: boolean;
  /** Where the snapshot comes from (tests give one that fails). */
  makeSnapshot?: (onFailure: (err: unknown) => void) => Promise<Snapshot | undefined>;
}

export class IsolateTier implements IsolationTier {
  readonly name = 'isolate';
  readonly #enforcer = new LimitEnforcer();
  readonly #snapshot: boolean;
  readonly #makeSnapshot: NonNullable<IsolateTierOptions['makeSnapshot']>;

  constructor(options: IsolateTierOptions = {}) {
    this.#snapshot = options.snapshot ?? true;
    this.#makeSnapshot = options.makeSnapshot ?? runtimeSnapshot;
  }

  async start(spec: SandboxSpec): Promise<Sandbox> {
    const snapshot = this.#snapshot
      ? await this.#makeSnapshot((err) => spec.log.event('warn', 'runtime snapshot failed: isolates boot without it', { error: String(err) }))
      : undefined;
    return IsolateSandbox.start(spec, this.#enforcer, snapshot);
  }
}

export { LimitEnforcer } from './limit-enforcer.ts';
