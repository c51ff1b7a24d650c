// The cgroup layouts against a fake cgroupfs in a temporary directory: which files each version
// writes. The real hierarchy is exercised by the tier tests where the host has one.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { sandboxCommand, detectCgroups, removeStaleCgroups, SandboxCgroup } from './cgroup.ts';

let root: string;
const LIMITS = { memoryBytes: 192 * 1048576, pidsMax: 256, cpus: 1 };

function fakeFs(files: Record<string, string>): string {
  root = mkdtempSync(path.join(tmpdir(), 'islet-cgroup-'));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  return root;
}

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('cgroups', () => {
  it('v2: one directory with memory.max, pids.max and cpu.max', async () => {
    fakeFs({ 'fs/cgroup.controllers': 'cpu memory pids', 'fs/islet.slice/.keep': '', self: '0::/islet.slice\n' });
    const layout = detectCgroups(path.join(root, 'fs'), path.join(root, 'self'));
    expect(layout).toEqual({ version: 2, dir: path.join(root, 'fs/islet.slice') });
    const cg = SandboxCgroup.create(layout!, 'sb1', LIMITS);
    const dir = path.join(root, 'fs/islet.slice/sb1');
    expect(readFileSync(path.join(dir, 'memory.max'), 'utf8')).toBe(String(LIMITS.memoryBytes));
    expect(readFileSync(path.join(dir, 'pids.max'), 'utf8')).toBe('256');
    expect(readFileSync(path.join(dir, 'cpu.max'), 'utf8')).toBe('100000 100000');
    expect(cg.procsFiles).toEqual([path.join(dir, 'cgroup.procs')]);
    writeFileSync(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    expect(cg.oomKilled()).toBe(true);
  });

  it('v1 on a hybrid host: memory, pids and cpu hierarchies, ignoring the controller-less cgroup2', () => {
    fakeFs({
      'fs/unified/cgroup.controllers': '',
      'fs/memory/api/x/.keep': '',
      'fs/pids/.keep': '',
      'fs/cpu/.keep': '',
      self: '8:pids:/\n4:memory:/api/x\n1:cpu:/\n0::/\n',
    });
    const layout = detectCgroups(path.join(root, 'fs'), path.join(root, 'self'));
    expect(layout).toEqual({ version: 1, memory: path.join(root, 'fs/memory/api/x'), pids: path.join(root, 'fs/pids'), cpu: path.join(root, 'fs/cpu') });
    const cg = SandboxCgroup.create(layout!, 'sb2', { ...LIMITS, cpus: 0.5 });
    expect(readFileSync(path.join(root, 'fs/memory/api/x/sb2/memory.limit_in_bytes'), 'utf8')).toBe(String(LIMITS.memoryBytes));
    expect(readFileSync(path.join(root, 'fs/pids/sb2/pids.max'), 'utf8')).toBe('256');
    expect(readFileSync(path.join(root, 'fs/cpu/sb2/cpu.cfs_quota_us'), 'utf8')).toBe('50000');
    expect(cg.procsFiles).toHaveLength(3);
    expect(cg.oomKilled()).toBe(false);
  });

  it('no memory controller: no cgroups', () => {
    fakeFs({ 'fs/pids/.keep': '', self: '8:pids:/\n' });
    expect(detectCgroups(path.join(root, 'fs'), path.join(root, 'self'))).toBeUndefined();
  });

  it('remove() takes the directories away once empty', async () => {
    fakeFs({ 'fs/cgroup.controllers': 'memory', self: '0::/\n' });
    const cg = SandboxCgroup.create(detectCgroups(path.join(root, 'fs'), path.join(root, 'self'))!, 'sb3', LIMITS);
    const dir = path.join(root, 'fs/sb3');
    // A real cgroupfs has no files to delete; here they are plain files, so clear them first.
    for (const f of ['memory.max', 'memory.swap.max', 'pids.max', 'cpu.max']) rmSync(path.join(dir, f));
    await cg.remove();
    expect(existsSync(dir)).toBe(false);
  });

  it('leftovers of engines that are gone are removed; a live engine\'s are kept', () => {
    fakeFs({ 'fs/cgroup.controllers': 'memory', self: '0::/\n' });
    const layout = detectCgroups(path.join(root, 'fs'), path.join(root, 'self'))!;
    for (const dir of ['islet-2147483646-process-1', `islet-${process.pid}-process-2`, 'other-1']) mkdirSync(path.join(root, 'fs', dir));
    removeStaleCgroups(layout, 'islet-');
    expect(existsSync(path.join(root, 'fs/islet-2147483646-process-1'))).toBe(false);
    expect(existsSync(path.join(root, `fs/islet-${process.pid}-process-2`))).toBe(true);
    expect(existsSync(path.join(root, 'fs/other-1'))).toBe(true);
  });

  it('the launch command joins every hierarchy before it execs the sandbox', () => {
    fakeFs({ 'fs/cgroup.controllers': 'memory', self: '0::/\n' });
    const cg = SandboxCgroup.create(detectCgroups(path.join(root, 'fs'), path.join(root, 'self'))!, 'sb4', LIMITS);
    const { command, args } = sandboxCommand(cg, '/usr/bin/env', ['true']);
    expect(command).toBe('/bin/sh');
    expect(args.slice(3)).toEqual([...cg.procsFiles, '--', '/usr/bin/env', 'true']);
  });

  it('the launch command takes core dumps away, with or without cgroups, whatever its engine allowed', () => {
    // The engine may run where cores are on (ulimit -c unlimited): a sandbox's abort() wrote one.
    const { command, args } = sandboxCommand(undefined, '/bin/sh', ['-c', 'ulimit -c']);
    const run = spawnSync('/bin/sh', ['-c', 'ulimit -c unlimited && exec "$@"', 'engine', command, ...args], { encoding: 'utf8' });
    expect(run.stdout.trim()).toBe('0');
  });
});
