// The isolation tiers: one interface (tier.ts), one folder per backend, and the choice between them.
import { ContainerTier, type ContainerRuntime } from './container/index.ts';
import { GvisorTier } from './gvisor/index.ts';
import { MicrovmTier } from './microvm/index.ts';
import { ProcessTier } from './process/index.ts';
import type { IsolationTier } from './tier.ts';

export { checkTierFields, chooseTier, type TierChoice, type TierRequest } from './choose.ts';
export { CONTAINER_RUNTIMES, ContainerTier, type ContainerRuntime, type ContainerTierOptions } from './container/index.ts';
export { GvisorTier } from './gvisor/index.ts';
export { IsolateTier } from './isolate/index.ts';
export { MicrovmTier, type MicrovmTierOptions } from './microvm/index.ts';
export { ProcessTier, type ProcessTierOptions } from './process/index.ts';
export * from './tier.ts';

export interface HostTierOptions {
  /** What makes the container tier's containers (default bubblewrap). */
  containerRuntime?: ContainerRuntime;
}

/** The tiers besides isolates an engine offers by default; each starts nothing until used. */
export function hostTiers(options: HostTierOptions = {}): IsolationTier[] {
  return [new ProcessTier(), new ContainerTier({ runtime: options.containerRuntime }), new GvisorTier(), new MicrovmTier()];
}
