// One cgroup per sandbox, for the limits a process boundary alone cannot hold: memory (heap plus
// buffers and native allocations), process count and CPU share. Works with cgroup v2 (a unified
// hierarchy whose controllers are enabled) and v1 (a hierarchy per controller), including hybrid
// hosts where v1 controllers sit beside a controller-less cgroup2 mount.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface CgroupLimits {
  memoryBytes: number;
  pidsMax: number;
  /** CPUs the sandbox may use at once (1 = one core's worth per period). */
  cpus: number;
}

type Layout =
  | { version: 2; dir: string }
  | { version: 1; memory: string; pids: string | undefined; cpu: string | undefined };

/** Where this process's own cgroups are, and which version: undefined when none is usable. */
export function detectCgroups(root = '/sys/fs/cgroup', selfCgroup = '/proc/self/cgroup'): Layout | undefined {
  let lines: string[];
  try {
    lines = readFileSync(selfCgroup, 'utf8').trim().split('\n');
  } catch {
    return undefined;
  }
  const pathOf = (controller: string): string | undefined => {
    for (const line of lines) {
      const [, controllers, p] = line.split(':');
      if (controllers?.split(',').includes(controller)) return p;
    }
    return undefined;
  };
  const controllersFile = path.join(root, 'cgroup.controllers');
  if (existsSync(controllersFile) && readFileSync(controllersFile, 'utf8').split(/\s+/).includes('memory')) {
    const own = lines.find((l) => l.startsWith('0::'))?.slice(3) ?? '/';
    return { version: 2, dir: path.resolve(root, `.${own}`) };
  }
  const v1 = (controller: string, mount = controller): string | undefined => {
    const p = pathOf(controller);
    const dir = p === undefined ? undefined : path.resolve(root, mount, `.${p}`);
    return dir && existsSync(dir) ? dir : undefined;
  };
  const memory = v1('memory');
  if (!memory) return undefined;
  return { version: 1, memory, pids: v1('pids'), cpu: v1('cpu') };
}

/** True while process `pid` exists (signal 0 checks without sending). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes cgroups named `<prefix><pid>-…` left by engine processes that are gone (killed before
 * their sandboxes' cgroups could be removed). Busy or foreign ones are left alone.
 */
export function removeStaleCgroups(layout: Layout, prefix: string): void {
  const parents = layout.version === 2 ? [layout.dir] : [layout.memory, layout.pids, layout.cpu].filter((d): d is string => d !== undefined);
  const pattern = new RegExp(`^${prefix}(\\d+)-`);
  for (const parent of parents) {
    let entries: string[];
    try {
      entries = readdirSync(parent);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const m = pattern.exec(entry);
      if (!m || processAlive(Number(m[1]))) continue;
      try {
        rmdirSync(path.join(parent, entry));
      } catch {
        // Still busy, or not ours to remove.
      }
    }
  }
}

const RMDIR_TRIES = 40;
const RMDIR_RETRY_MS = 5;

/** A cgroup made for one sandbox. The launcher puts the sandbox's first process in it. */
export class SandboxCgroup {
  /** Files the sandbox's pid is written to (cgroup.procs of each hierarchy). */
  readonly procsFiles: string[];
  readonly #dirs: string[];
  readonly #oomFile: string;

  private constructor(dirs: string[], oomFile: string) {
    this.#dirs = dirs;
    this.procsFiles = dirs.map((d) => path.join(d, 'cgroup.procs'));
    this.#oomFile = oomFile;
  }

  /** Creates the cgroup with `limits`; throws when the hierarchy cannot be written (not root). */
  static create(layout: Layout, name: string, limits: CgroupLimits): SandboxCgroup {
    const periodUs = 100_000;
    const quotaUs = Math.round(limits.cpus * periodUs);
    const dirs: string[] = [];
    const make = (parent: string, files: Record<string, string>): string => {
      const dir = path.join(parent, name);
      mkdirSync(dir);
      dirs.push(dir);
      for (const [file, value] of Object.entries(files)) writeFileSync(path.join(dir, file), value);
      return dir;
    };
    try {
      if (layout.version === 2) {
        const dir = make(layout.dir, { 'memory.max': String(limits.memoryBytes), 'memory.swap.max': '0', 'pids.max': String(limits.pidsMax), 'cpu.max': `${quotaUs} ${periodUs}` });
        return new SandboxCgroup(dirs, path.join(dir, 'memory.events'));
      }
      const memory = make(layout.memory, { 'memory.limit_in_bytes': String(limits.memoryBytes) });
      // Without swap accounting there is no memsw file and swap is not charged: nothing to cap.
      const memsw = path.join(memory, 'memory.memsw.limit_in_bytes');
      if (existsSync(memsw)) writeFileSync(memsw, String(limits.memoryBytes));
      if (layout.pids) make(layout.pids, { 'pids.max': String(limits.pidsMax) });
      if (layout.cpu) make(layout.cpu, { 'cpu.cfs_period_us': String(periodUs), 'cpu.cfs_quota_us': String(quotaUs) });
      return new SandboxCgroup(dirs, path.join(memory, 'memory.oom_control'));
    } catch (err) {
      // Half made (a controller refused a value): take back what was made.
      for (const dir of dirs.reverse()) {
        try {
          rmdirSync(dir);
        } catch {
          // Left for the operator: a cgroup directory holds no data.
        }
      }
      throw err;
    }
  }

  /**
   * True when the kernel's OOM killer ended a process of this cgroup, or (v1, where the kill is
   * counted in a nested container cgroup that is gone by now) usage reached the limit.
   */
  oomKilled(): boolean {
    const read = (file: string) => {
      try {
        return readFileSync(path.join(this.#dirs[0]!, file), 'utf8');
      } catch {
        return '';
      }
    };
    const m = /^oom_kill (\d+)$/m.exec(read(path.basename(this.#oomFile)));
    if (m !== null && Number(m[1]) > 0) return true;
    const maxUsage = Number(read('memory.max_usage_in_bytes'));
    return maxUsage > 0 && maxUsage >= Number(read('memory.limit_in_bytes'));
  }

  /** Removes the cgroup once its processes are gone; the kernel may say EBUSY for a moment after exit. */
  async remove(): Promise<void> {
    // A container runtime's nested cgroups first (runc leaves none behind; a killed one may).
    const nested = this.#dirs.flatMap((dir) => {
      try {
        return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name));
      } catch {
        return [];
      }
    });
    for (const dir of [...nested, ...this.#dirs]) {
      for (let attempt = 1; ; attempt++) {
        try {
          rmdirSync(dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code !== 'EBUSY' || attempt >= RMDIR_TRIES) throw err;
          await new Promise((r) => setTimeout(r, RMDIR_RETRY_MS * attempt));
        }
      }
    }
  }
}

/**
 * `/bin/sh` joins the sandbox's cgroups (if it has any), then execs it: no window where it runs
 * outside them. It also takes away core dumps: a tenant's process.abort() had the kernel write
 * 600 MB of core for it (core_pattern "core"), into a directory it could write.
 */
export function sandboxCommand(cgroup: SandboxCgroup | undefined, command: string, args: string[]): { command: string; args: string[] } {
  const script = 'ulimit -c 0 && while [ "$1" != -- ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"';
  return { command: '/bin/sh', args: ['-c', script, 'islet-sandbox', ...(cgroup?.procsFiles ?? []), '--', command, ...args] };
}

export type { Layout as CgroupLayout };
