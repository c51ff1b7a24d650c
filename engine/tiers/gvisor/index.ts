// The gVisor tier: the process tier's sandbox in a runsc container, so the tenant's system calls
// meet gVisor's user-space kernel (the sentry) instead of the host's. Debian's runsc (2022) runs
// here only on the ptrace platform; its limits come from the sandbox's cgroup, whose pids.max
// must leave gVisor room (SANDBOX_PIDS_MAX is 256 for that reason).
import { OciLauncher } from '../container/index.ts';
import { ProcessTier, type Launcher } from '../process/index.ts';
import type { TierCapabilities, TierName } from '../tier.ts';

/** The sentry's own memory, besides Node's: measured ~60 MB here for a hello sandbox. */
const GVISOR_OVERHEAD_MB = 160;

export class GvisorTier extends ProcessTier {
  override readonly name: TierName = 'gvisor';
  // ~270 ms cold for a hello sandbox booted from nothing on the ptrace platform.
  override readonly capabilities: TierCapabilities = { coldStartMs: 270, densityPerGb: 8, accepts: ['node-builtins', 'native', 'untrusted-strong'], strength: 4 };
  protected override readonly launcher: Launcher = new OciLauncher('runsc');
  protected override readonly memoryOverheadMb = GVISOR_OVERHEAD_MB;
}
