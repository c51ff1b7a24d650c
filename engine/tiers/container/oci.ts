// OCI runtimes as launchers: runc and crun (the container tier's alternatives to bubblewrap) and
// runsc (gVisor). Each sandbox gets a generated bundle: an empty read-only root with the host's
// /usr, the Node binary, the runtime and the sandbox's own code directory bound read-only, a
// private /tmp, no network, an unprivileged user without capabilities. The runtime's stdin and
// stdout carry the protocol. Limits come from the sandbox's cgroup, which the runtime process is
// started in: the container's own cgroup is a relative path, so it nests under it.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findExecutable } from '../host-binaries.ts';
import type { Launcher, LaunchRequest } from '../process/index.ts';
import { processAlive } from '../process/cgroup.ts';

export type OciRuntime = 'runc' | 'crun' | 'runsc';

/** Containers this process started and has not deleted: never a dead engine's (OciLauncher.prepare). */
const launched = new Set<string>();

const NOBODY = 65534;
const HYBRID_CGROUP2 = '/sys/fs/cgroup/unified';

interface Mount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

/** config.json for one sandbox; `rootfs` gets the merged-usr symlinks (/lib → usr/lib) the host has. */
export function ociConfig(request: Pick<LaunchRequest, 'id' | 'node' | 'nodeArgs' | 'readable' | 'network'>, rootfs: string): Record<string, unknown> {
  const bind = (p: string): Mount => ({ destination: p, type: 'bind', source: p, options: ['rbind', 'ro', 'nosuid', 'nodev'] });
  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=1m'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=64m'] },
    bind('/usr'),
  ];
  for (const dir of ['/lib', '/lib64', '/bin', '/sbin']) {
    if (!existsSync(dir)) continue;
    if (lstatSync(dir).isSymbolicLink()) symlinkSync(readlinkSync(dir), path.join(rootfs, dir));
    else mounts.push(bind(dir));
  }
  mounts.push(bind(request.node), ...request.readable.map(bind));
  const namespaces = ['pid', 'ipc', 'uts', 'mount', ...(request.network ? [] : ['network'])].map((type) => ({ type }));
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: NOBODY, gid: NOBODY },
      args: [request.node, ...request.nodeArgs],
      env: ['ISLET_CHANNEL_FD=stdio'],
      cwd: '/tmp',
      noNewPrivileges: true,
      capabilities: { bounding: [], effective: [], permitted: [], ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'islet',
    mounts,
    linux: {
      namespaces,
      // Relative: inside the cgroup the runtime process was started in, whose limits then hold.
      // Named for the container: in a hierarchy where the sandbox has no cgroup of its own (v1's
      // cpuset), a shared name was one directory for all, and two containers starting together
      // raced on it (one wrote its pid before the other had set the cpus: ENOSPC, a failed boot).
      cgroupsPath: request.id,
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** Hybrid hosts mount a controller-less cgroup2 beside v1; crun then refuses to run unless it is hidden. */
function hybridCgroups(): boolean {
  return existsSync(path.join(HYBRID_CGROUP2, 'cgroup.controllers'));
}

export class OciLauncher implements Launcher {
  readonly channel = 'stdio';
  readonly cpuClock: Launcher['cpuClock'];
  readonly runtime: OciRuntime;
  #probe: string | undefined | null = null;

  constructor(runtime: OciRuntime) {
    this.runtime = runtime;
    // gVisor's node runs inside its sentry: no host process to read a thread clock from.
    this.cpuClock = runtime === 'runsc' ? 'process-tree' : 'all-threads';
  }

  /** The runtime's command line for `args` (run, delete), with what each runtime needs here. */
  #invocation(args: string[]): { command: string; args: string[] } {
    const binary = findExecutable(this.runtime)!;
    // ptrace is the platform that works on these hosts (systrap is too new for Debian's runsc,
    // KVM hangs in a VM without nested virtualisation).
    if (this.runtime === 'runsc') return { command: binary, args: ['--rootless=false', '--network=none', '--platform=ptrace', ...args] };
    if (this.runtime === 'runc') return { command: binary, args };
    // crun makes no cgroup of its own (the container stays in the sandbox's, which holds the
    // limits: crun would put a relative path under the root), and on a hybrid host it runs in a
    // private mount namespace without the controller-less cgroup2 mount, which it refuses.
    const crun = [binary, '--cgroup-manager=disabled', ...args];
    if (!hybridCgroups()) return { command: binary, args: crun.slice(1) };
    const script = `umount ${HYBRID_CGROUP2} && exec "$@"`;
    return { command: findExecutable('unshare') ?? 'unshare', args: ['-m', '/bin/sh', '-c', script, 'islet-crun', ...crun] };
  }

  /** Finds the runtime and runs one container with it: being installed is not the same as working. */
  unavailable(): string | undefined {
    if (this.#probe !== null) return this.#probe;
    const binary = findExecutable(this.runtime);
    const pkg = this.runtime === 'runsc' ? 'runsc (gVisor)' : this.runtime;
    if (!binary) return (this.#probe = `${this.runtime} is not installed: run "npm run setup:tiers" (Debian package ${pkg})`);
    if (process.getuid?.() !== 0) return (this.#probe = `${this.runtime} needs root here (rootless containers are not set up)`);
    const scratch = mkdtempSync(path.join(tmpdir(), `islet-probe-${this.runtime}-`));
    try {
      // Its own id each time: a probe cut short (its engine killed) leaves its container behind,
      // which a later engine given the same pid would otherwise collide with.
      const request = { id: `islet-probe-${process.pid}-${this.runtime}-${randomUUID().slice(0, 8)}`, scratchDir: scratch, node: '/usr/bin/true', nodeArgs: [], readable: [], memoryMb: 0, network: false };
      const { command, args } = this.command(request);
      const run = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
      const { command: del, args: delArgs } = this.#invocation(['delete', this.runtime === 'runsc' ? '-force' : '--force', request.id]);
      spawnSync(del, delArgs, { stdio: 'ignore', timeout: 10_000 });
      launched.delete(request.id);
      this.#probe = run.status === 0 ? undefined : `${this.runtime} cannot run a container here: ${(run.stderr || run.error?.message || `exit ${run.status}`).trim().split('\n').slice(-2).join(' ')}`;
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    return this.#probe;
  }

  /**
   * Deletes the containers of engines that died (SIGKILL) before deleting theirs: the runtime keeps
   * their state, named for the engine's pid, and an engine that later got the same pid (pid_max is
   * 32768 here) had every sandbox refused ("container with given ID already exists"). One named
   * for this pid that this process did not start is such a dead engine's too.
   */
  async prepare(): Promise<void> {
    const stale = (await this.containers()).filter((id) => {
      const pid = /^islet-(?:probe-)?(\d+)-/.exec(id)?.[1];
      if (pid === undefined || launched.has(id)) return false;
      return Number(pid) === process.pid || !processAlive(Number(pid));
    });
    await Promise.all(stale.map((id) => this.cleanup({ id } as LaunchRequest)));
  }

  /** The ids of the containers the runtime holds; none when it cannot say (in time). */
  containers(): Promise<string[]> {
    const { command, args } = this.#invocation(['list', this.runtime === 'runsc' ? '-quiet' : '--quiet']);
    return new Promise((resolve) => {
      execFile(command, args, { encoding: 'utf8', timeout: 20_000 }, (err, stdout) => resolve(err ? [] : stdout.split('\n').filter(Boolean)));
    });
  }

  command(request: LaunchRequest): { command: string; args: string[] } {
    const rootfs = path.join(request.scratchDir, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(path.join(request.scratchDir, 'config.json'), JSON.stringify(ociConfig(request, rootfs)));
    launched.add(request.id);
    return this.#invocation(['run', '--bundle', request.scratchDir, request.id]);
  }

  /** The runtime keeps a container's state (and gVisor its sandbox) after it was killed: delete it. */
  cleanup(request: LaunchRequest): Promise<void> {
    const { command, args } = this.#invocation(['delete', this.runtime === 'runsc' ? '-force' : '--force', request.id]);
    return new Promise((resolve) => {
      // Bounded: a runtime that hangs must not hold the tier's start (prepare) or its close.
      const child = spawn(command, args, { stdio: 'ignore', timeout: 20_000 });
      child.on('error', () => resolve());
      child.on('close', () => {
        launched.delete(request.id);
        resolve();
      });
    });
  }
}
