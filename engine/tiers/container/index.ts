// The container tier: the process tier's sandbox inside a container — bubblewrap by default, or
// an OCI runtime (runc, crun) with a generated bundle — with its limits in a cgroup.
import { ProcessTier, type Launcher, type ProcessTierOptions } from '../process/index.ts';
import type { TierCapabilities, TierName } from '../tier.ts';
import { BubblewrapLauncher } from './bubblewrap.ts';
import { OciLauncher } from './oci.ts';

export const CONTAINER_RUNTIMES = ['bubblewrap', 'runc', 'crun'] as const;
export type ContainerRuntime = (typeof CONTAINER_RUNTIMES)[number];

export interface ContainerTierOptions extends ProcessTierOptions {
  /** Which program makes the container (default bubblewrap: the fastest to start here). */
  runtime?: ContainerRuntime;
}

// Cold starts of a booted-from-nothing hello sandbox here: bubblewrap adds ~10 ms to Node's
// start, an OCI runtime a few hundred (it sets up a bundle's mounts and cgroups each time).
const COLD_START_MS: Record<ContainerRuntime, number> = { bubblewrap: 40, runc: 300, crun: 300 };

export class ContainerTier extends ProcessTier {
  override readonly name: TierName = 'container';
  override readonly capabilities: TierCapabilities;
  protected override readonly launcher: Launcher;
  readonly runtime: ContainerRuntime;

  constructor(options: ContainerTierOptions = {}) {
    super(options);
    this.runtime = options.runtime ?? 'bubblewrap';
    if (!CONTAINER_RUNTIMES.includes(this.runtime)) throw new RangeError(`container runtime must be one of ${CONTAINER_RUNTIMES.join(', ')}`);
    this.launcher = this.runtime === 'bubblewrap' ? new BubblewrapLauncher() : new OciLauncher(this.runtime);
    this.capabilities = { coldStartMs: COLD_START_MS[this.runtime], densityPerGb: 20, accepts: ['node-builtins', 'native'], strength: 3 };
  }

  override status(): Record<string, unknown> {
    return { ...super.status(), runtime: this.runtime };
  }
}

export { bubblewrapArgs } from './bubblewrap.ts';
export { OciLauncher, ociConfig, type OciRuntime } from './oci.ts';
