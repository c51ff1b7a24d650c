// An engine killed outright (SIGKILL, a V8 fatal error) takes its sandboxes with it: before, a
// microVM killed mid-boot with its engine kept spinning QEMU's TCG thread for hours.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { ContainerTier, GvisorTier, MicrovmTier, ProcessTier, type IsolationTier } from './index.ts';
import { OciLauncher } from './container/oci.ts';

const tiersIndex = path.join(path.dirname(fileURLToPath(import.meta.url)), 'index.ts');
const engineIndex = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'index.ts');

const candidates: Array<{ label: string; tier: IsolationTier; make: string }> = [
  { label: 'process', tier: new ProcessTier(), make: 'new tiers.ProcessTier()' },
  { label: 'container (bubblewrap)', tier: new ContainerTier(), make: 'new tiers.ContainerTier()' },
  { label: 'container (runc)', tier: new ContainerTier({ runtime: 'runc' }), make: "new tiers.ContainerTier({ runtime: 'runc' })" },
  { label: 'container (crun)', tier: new ContainerTier({ runtime: 'crun' }), make: "new tiers.ContainerTier({ runtime: 'crun' })" },
  { label: 'gvisor', tier: new GvisorTier(), make: 'new tiers.GvisorTier()' },
  { label: 'microvm', tier: new MicrovmTier(), make: 'new tiers.MicrovmTier()' },
];
const runnable = candidates.filter((c) => {
  const why = c.tier.unavailable?.();
  if (why) console.warn(`engine-death: skipping the ${c.label} tier: ${why}`);
  return !why;
});

/** Every process below `root`, read from /proc (pid → its parent). */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name may hold spaces and parentheses: the parent pid follows the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parents) if (parent === pid) (found.push(child), walk(child));
  };
  walk(root);
  return found;
}

const alive = (pid: number) => {
  try {
    // A zombie has no command line left; it is gone for this purpose (init reaps it).
    return readFileSync(`/proc/${pid}/cmdline`).length > 0;
  } catch {
    return false;
  }
};

const commandLine = (pid: number, chars = 160) => {
  try {
    return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, chars)}`;
  } catch {
    return `${pid}: gone`;
  }
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every live process whose command line names a sandbox of engine `pid` (`islet-<pid>-<tier>-<n>`). */
function sandboxesOf(pid: number): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((p) => alive(p) && commandLine(p, Infinity).includes(`islet-${pid}-`));
}

describe.skipIf(runnable.length === 0).concurrent('an engine killed with SIGKILL', () => {
  test.each(runnable)('leaves no sandbox of the $label tier running, killed while one boots', async ({ tier, make }) => {
    // The engine deploys and keeps asking: its first sandbox is booting when it is killed.
    const script = `
      const { Engine } = await import(${JSON.stringify(engineIndex)});
      const tiers = await import(${JSON.stringify(tiersIndex)});
      const tier = ${make};
      const engine = new Engine({ tiers: [tier] });
      engine.deploy('f', { code: 'export default { fetch() { return new Response("hi") } }', tier: tier.name }).catch(() => {});
      setInterval(() => {}, 1000);`;
    const engine = spawn(process.execPath, ['--no-node-snapshot', '--input-type=module', '-e', script], { stdio: 'ignore' });
    const pid = engine.pid!;
    let tree: number[] = [];
    try {
      // Waits for the sandbox itself, named for the engine (not the tier's probes of the host).
      for (let i = 0; i < 600 && sandboxesOf(pid).length === 0; i++) await sleep(50);
      expect(sandboxesOf(pid).length, 'no sandbox was started within 30 s').toBeGreaterThan(0);
      await sleep(300);
      tree = descendants(pid);
      engine.kill('SIGKILL');
      // What was below the engine, and anything named for it started after the look (a runtime's
      // own children): all gone within 5 s.
      const left = () => [...new Set([...tree.filter(alive), ...sandboxesOf(pid)])];
      for (let i = 0; i < 100 && left().length > 0; i++) await sleep(50);
      expect(left().map(commandLine)).toEqual([]);
      // An OCI runtime deletes its container once the container's Node has gone: no state is
      // left behind for a later engine given the same pid.
      const runtime = tier instanceof GvisorTier ? 'runsc' : tier instanceof ContainerTier && tier.runtime !== 'bubblewrap' ? tier.runtime : undefined;
      if (runtime) {
        const launcher = new OciLauncher(runtime);
        let kept = (await launcher.containers()).filter((id) => id.startsWith(`islet-${pid}-`));
        for (let i = 0; i < 50 && kept.length > 0; i++) {
          await sleep(100);
          kept = (await launcher.containers()).filter((id) => id.startsWith(`islet-${pid}-`));
        }
        expect(kept).toEqual([]);
      }
    } finally {
      engine.kill('SIGKILL');
      // What the engine left behind must not outlive the test either.
      for (const p of new Set([...tree.filter(alive), ...sandboxesOf(pid)])) process.kill(p, 'SIGKILL');
    }
  }, 60_000);
});
