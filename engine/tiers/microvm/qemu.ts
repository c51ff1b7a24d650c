// The microVM tier's launcher: QEMU's `microvm` machine (Debian qemu-system-x86) under TCG, one
// VM per sandbox, booting the guest image (image.ts) with no network device at all. The host
// reaches the runtime over a virtio serial port whose host end is QEMU's stdin and stdout (the
// process tier's "stdio" channel); the guest's serial console is QEMU's stderr, so the kernel's
// and Node's last words reach the sandbox's stderr tail.
import { readFileSync } from 'node:fs';
import { SandboxUnavailableError } from '../../errors.ts';
import { SANDBOX_PROCESS_OVERHEAD_MB } from '../../limits.ts';
import { findExecutable } from '../host-binaries.ts';
import { killedWithEngine } from '../process/parent-death.ts';
import type { Launcher, LaunchRequest } from '../process/index.ts';
import { guestImage, guestImageMissing, type GuestImage } from './image.ts';

export interface QemuOptions {
  /** Where guest images are built and cached (default ~/.cache/islet/microvm). */
  imageDir?: string;
}

/**
 * Guest memory beyond the tenant's heap: the kernel (~25 MB), Node's own RSS (~45 MB) and the
 * pages of the Node binary it touches (~40 MB, page cache read from the disk).
 */
export const GUEST_OVERHEAD_MB = 160;
/**
 * How much slower Node runs under TCG than on the host, measured here: ~5× for a JIT-compiled
 * loop, ~25× for the runtime serving a hello request (13 ms of virtual CPU against ~0.5 ms).
 * The watchdog divides the VM's CPU time by it, so cpuMs buys about the work it buys elsewhere.
 */
export const TCG_CPU_SLOWDOWN = 10;
/** TCG's translated-code cache (QEMU's default is 1 GB); Node's JIT keeps it busy, so not tiny. */
export const TCG_CODE_CACHE_MB = 128;

/** hostTscKhz's reading; null until it has read. */
let tscKhz: number | undefined | null = null;

/**
 * The host's TSC frequency in kHz. Under TCG the guest's TSC is the host's, and the kernel's own
 * calibration against the emulated PIT fails now and then under load (the boot then stalls), so
 * the guest is told the frequency instead (`tsc_early_khz`).
 */
function hostTscKhz(): number | undefined {
  // Read once a process: /proc/cpuinfo is tens of KB of text on a big host, and a launch is not
  // the place to parse it again.
  if (tscKhz === null) {
    try {
      const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
      tscKhz = mhz ? Math.round(Number(mhz) * 1000) : undefined;
    } catch {
      tscKhz = undefined;
    }
  }
  return tscKhz;
}

export class QemuLauncher implements Launcher {
  readonly channel = 'stdio';
  readonly cpuClock = 'vcpu-threads';
  readonly cpuSlowdown = TCG_CPU_SLOWDOWN;
  readonly codeFile = '/code/index.mjs';
  readonly #imageDir: string | undefined;
  #image: GuestImage | undefined;

  constructor(options: QemuOptions = {}) {
    this.#imageDir = options.imageDir;
  }

  unavailable(): string | undefined {
    if (!findExecutable('qemu-system-x86_64')) return 'QEMU (qemu-system-x86_64) is not installed: run "npm run setup:tiers"';
    const missing = guestImageMissing();
    return missing && `${missing}: run "npm run setup:tiers"`;
  }

  /** Builds (or finds cached) the guest image, once. */
  async prepare(): Promise<void> {
    try {
      this.#image ??= await guestImage(this.#imageDir);
    } catch (err) {
      throw new SandboxUnavailableError(`the microVM guest image could not be built: ${(err as Error).message}`);
    }
  }

  command({ id, memoryMb }: LaunchRequest): { command: string; args: string[] } {
    const image = this.#image;
    if (!image) throw new Error('QemuLauncher.command() before prepare()');
    const tscKhz = hostTscKhz();
    const append = [
      // loglevel 4 shows errors (the OOM killer's "Killed process"), not warnings.
      'console=ttyS0', 'quiet', 'loglevel=4', 'panic=-1',
      ...(tscKhz ? [`tsc_early_khz=${tscKhz}`, 'tsc=reliable'] : []),
      `islet.heap=${memoryMb}`, `islet.memory=${memoryMb + SANDBOX_PROCESS_OVERHEAD_MB}`,
    ];
    // Killed with the engine: QEMU does not notice that its stdio closed (parent-death.ts).
    return killedWithEngine(findExecutable('qemu-system-x86_64')!, [
      // debug-threads names the vCPU thread ("CPU 0/TCG"), whose CPU clock a request is charged.
      '-name', `${id},debug-threads=on`,
      '-M', 'microvm', '-accel', `tcg,tb-size=${TCG_CODE_CACHE_MB}`, '-cpu', 'max', '-smp', '1',
      '-m', `${memoryMb + GUEST_OVERHEAD_MB}M`,
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      // QEMU runs as the engine's user (root here, every capability): a guest that breaks out of
      // the emulator then had all of the host's system calls. QEMU's seccomp filter takes away
      // what a VM like this one never needs: obsolete calls, setuid and the like, fork and exec,
      // scheduling and priorities. (Its uid stays: a new one would clear the parent-death signal
      // parent-death.ts sets, and it could not read the guest image under ~/.cache.)
      '-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
      '-kernel', image.kernel, '-initrd', image.initrd, '-append', append.join(' '),
      // Node's stdio pipes are socket pairs, which QEMU takes as a socket chardev by descriptor.
      '-chardev', 'socket,id=console,fd=2', '-serial', 'chardev:console',
      '-drive', `if=none,id=node,file=${image.disk},format=raw,readonly=on`, '-device', 'virtio-blk-device,drive=node',
      '-chardev', 'stdio,id=islet,signal=off', '-device', 'virtio-serial-device', '-device', 'virtserialport,chardev=islet,name=islet,nr=1',
    ]);
  }
}
