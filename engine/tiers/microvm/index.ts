// The microVM tier: the process tier's sandbox in its own virtual machine (QEMU's microvm
// machine under TCG, Debian's cloud kernel, a guest image built from Debian packages), so the
// tenant meets a guest kernel instead of the host's. The VM's memory is the tenant's heap limit
// plus the guest's own; the host's watchdog charges a request the VM's virtual CPU time.
import { VM_SANDBOX_START_TIMEOUT_MS } from '../../limits.ts';
import { ProcessTier, type Launcher, type ProcessTierOptions } from '../process/index.ts';
import type { TierCapabilities, TierName } from '../tier.ts';
import { GUEST_OVERHEAD_MB, QemuLauncher, TCG_CODE_CACHE_MB, type QemuOptions } from './qemu.ts';

export interface MicrovmTierOptions extends ProcessTierOptions, QemuOptions {}

/** QEMU's own memory beside the guest's and the code cache (an idle 128 MB hello VM holds ~360 MB in all). */
const QEMU_OVERHEAD_MB = 64;

export class MicrovmTier extends ProcessTier {
  override readonly name: TierName = 'microvm';
  // A hello VM booted from nothing under TCG: ~5.8 s here (bench:tiers, a loaded machine); from a
  // template, ~170 ms. ~360 MB of host memory an idle VM.
  override readonly capabilities: TierCapabilities = { coldStartMs: 5_800, densityPerGb: 3, accepts: ['node-builtins', 'untrusted-strong'], strength: 4 };
  protected override readonly launcher: Launcher;
  protected override readonly memoryOverheadMb = GUEST_OVERHEAD_MB + TCG_CODE_CACHE_MB + QEMU_OVERHEAD_MB;
  protected override readonly startTimeoutMs = VM_SANDBOX_START_TIMEOUT_MS;

  constructor(options: MicrovmTierOptions = {}) {
    // A VM boots for seconds on one core and holds a few hundred MB: one kept ready per memory
    // size in use even when cold starts are rare, and at most two.
    super({ ...options, templates: options.templates === false ? false : { minSize: 1, maxSize: 2, ...options.templates } });
    this.launcher = new QemuLauncher(options);
  }
}

export { guestImage, guestImageMissing } from './image.ts';
