// The container tier: the process tier's sandbox inside a bubblewrap container (namespaces,
// read-only system files, no network, an unprivileged user) with its limits in a cgroup.
import { ProcessTier } from '../process/index.ts';
import type { Launcher } from '../process/index.ts';
import type { TierCapabilities, TierName } from '../tier.ts';
import { BubblewrapLauncher } from './bubblewrap.ts';

export class ContainerTier extends ProcessTier {
  override readonly name: TierName = 'container';
  // bubblewrap adds ~10 ms to a Node start here (namespaces and mounts).
  override readonly capabilities: TierCapabilities = { coldStartMs: 40, densityPerGb: 20, accepts: ['node-builtins'], strength: 3 };
  protected override readonly launcher: Launcher = new BubblewrapLauncher();
}

export { bubblewrapArgs } from './bubblewrap.ts';
