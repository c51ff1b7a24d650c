// Installs what the heavier tiers need from Debian, and builds the microVM tier's guest image.
// Idempotent and quick when everything is there; skips with a message (never fails) when it
// cannot install: not root, or no apt-get.
import { aptInstall } from '../apt-install.ts';
import { findExecutable } from './host-binaries.ts';
import { guestImage, guestImageMissing } from './microvm/index.ts';

/**
 * Per backend, the programs it runs and the Debian packages that bring them; `ready` checks what
 * is no program on PATH (a kernel in /boot, a static busybox).
 */
export const TIER_PACKAGES: Record<string, { binaries: string[]; packages: string[]; ready?: () => boolean }> = {
  'container (bubblewrap)': { binaries: ['bwrap'], packages: ['bubblewrap'] },
  'container (runc)': { binaries: ['runc'], packages: ['runc'] },
  'container (crun)': { binaries: ['crun'], packages: ['crun'] },
  gvisor: { binaries: ['runsc'], packages: ['runsc'] },
  microvm: {
    binaries: ['qemu-system-x86_64'],
    packages: ['qemu-system-x86', 'linux-image-cloud-amd64', 'busybox-static', 'e2fsprogs'],
    ready: () => !guestImageMissing(),
  },
};

export interface SetupResult {
  installed: string[];
  alreadyThere: string[];
  /** Why nothing was installed, when something was missing and could not be. */
  skipped?: string;
}

export async function setupTiers(log: (line: string) => void = console.log): Promise<SetupResult> {
  const result = installTierPackages(log);
  await buildGuestImage(log);
  return result;
}

/** The microVM guest image, built now (a few seconds) rather than at the first VM's boot. */
async function buildGuestImage(log: (line: string) => void): Promise<void> {
  if (guestImageMissing()) return;
  const started = performance.now();
  try {
    const image = await guestImage();
    log(`islet setup: microVM guest image ready in ${Math.round(performance.now() - started)} ms (${image.disk})`);
  } catch (err) {
    log(`islet setup: the microVM guest image could not be built: ${(err as Error).message}`);
  }
}

function installTierPackages(log: (line: string) => void): SetupResult {
  const missing = Object.entries(TIER_PACKAGES).filter(([, need]) => need.binaries.some((b) => !findExecutable(b)) || need.ready?.() === false);
  const alreadyThere = Object.keys(TIER_PACKAGES).filter((tier) => !missing.some(([t]) => t === tier));
  if (missing.length === 0) {
    log(`islet setup: tier backends already installed (${alreadyThere.join(', ')})`);
    return { installed: [], alreadyThere };
  }
  const packages = missing.flatMap(([, need]) => need.packages);
  const skip = (why: string): SetupResult => {
    log(`islet setup: not installing ${packages.join(', ')}: ${why}; the ${missing.map(([t]) => t).join(', ')} tier tests will skip`);
    return { installed: [], alreadyThere, skipped: why };
  };
  const result = aptInstall(packages, log);
  if (!result.ok) return skip(result.why);
  return { installed: missing.map(([t]) => t), alreadyThere };
}
