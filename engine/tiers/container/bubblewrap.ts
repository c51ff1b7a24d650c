// The container tier's launcher: bubblewrap (Debian `bubblewrap`) puts the sandbox's Node in new
// user, pid, mount, network, ipc, uts and cgroup namespaces, as an unprivileged user with no
// capabilities, seeing a read-only /usr, the Node binary, the runtime and its own bundle, an
// empty /tmp, and no network (the host's fetch() is its only way out) unless it is allowed one.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import type { Launcher, LaunchRequest } from '../process/index.ts';
import { findExecutable } from '../host-binaries.ts';

const NOBODY = '65534';

/** /lib, /lib64, /bin and /sbin as the host has them: merged-usr symlinks, or directories. */
function systemDirs(): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const dir of ['/lib', '/lib64', '/bin', '/sbin']) {
    if (!existsSync(dir)) continue;
    if (lstatSync(dir).isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
    else args.push('--ro-bind', dir, dir);
  }
  return args;
}

export function bubblewrapArgs({ node, nodeArgs, readable, network }: Pick<LaunchRequest, 'node' | 'nodeArgs' | 'readable' | 'network'>): string[] {
  return [
    '--unshare-all',
    ...(network ? ['--share-net'] : []),
    '--die-with-parent',
    '--new-session',
    '--clearenv',
    '--setenv', 'ISLET_CHANNEL_FD', '3',
    '--uid', NOBODY,
    '--gid', NOBODY,
    '--cap-drop', 'ALL',
    '--hostname', 'islet',
    ...systemDirs(),
    '--proc', '/proc',
    '--dev', '/dev',
    '--tmpfs', '/tmp',
    '--ro-bind', node, node,
    ...readable.flatMap((p) => ['--ro-bind', p, p]),
    '--chdir', '/tmp',
    '--',
    node,
    ...nodeArgs,
  ];
}

export class BubblewrapLauncher implements Launcher {
  readonly channel = 'fd3';
  readonly cpuClock = 'all-threads';
  #probe: string | undefined | null = null;

  /** Looks for bwrap and runs it once: user namespaces may be off even where it is installed. */
  unavailable(): string | undefined {
    if (this.#probe !== null) return this.#probe;
    const bwrap = findExecutable('bwrap');
    if (!bwrap) {
      this.#probe = 'bubblewrap (bwrap) is not installed: run "npm run setup:tiers" (Debian package bubblewrap)';
      return this.#probe;
    }
    const probe = spawnSync(bwrap, ['--unshare-all', '--uid', NOBODY, '--ro-bind', '/usr', '/usr', ...systemDirs(), '--', '/usr/bin/true'], { encoding: 'utf8', timeout: 10_000 });
    this.#probe = probe.status === 0 ? undefined : `bubblewrap cannot create namespaces here: ${(probe.stderr || probe.error?.message || `exit ${probe.status}`).trim()}`;
    return this.#probe;
  }

  command(request: LaunchRequest): { command: string; args: string[] } {
    return { command: findExecutable('bwrap')!, args: bubblewrapArgs(request) };
  }
}
