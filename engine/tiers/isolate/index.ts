// The isolate tier: every function in its own V8 isolate, inside the engine process.
import type { IsolationTier, Sandbox, SandboxSpec } from '../tier.ts';
import { IsolateSandbox } from './isolate-sandbox.ts';
import { LimitEnforcer } from './limit-enforcer.ts';

export class IsolateTier implements IsolationTier {
  readonly name = 'isolate';
  readonly #enforcer = new LimitEnforcer();

  start(spec: SandboxSpec): Promise<Sandbox> {
    return IsolateSandbox.start(spec, this.#enforcer);
  }
}

export { LimitEnforcer } from './limit-enforcer.ts';
