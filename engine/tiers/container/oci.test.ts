// OCI runtimes keep a container's state until it is deleted; an engine killed with SIGKILL leaves
// its containers' behind, named for its pid, which a later engine may be given again.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../index.ts';
import { ContainerTier, OciLauncher, type OciRuntime } from './index.ts';

for (const runtime of ['runc', 'crun', 'runsc'] as OciRuntime[]) {
  const missing = new OciLauncher(runtime).unavailable();
  describe.skipIf(missing)(`${runtime}: a dead engine's leftover containers${missing ? ` (skipped: ${missing})` : ''}`, () => {
    it('do not refuse the sandboxes of a later engine given the same pid', async () => {
      // What a dead engine with this pid left: its first sandboxes' containers, never deleted (a
      // runtime killed under them leaves them so; created and not started is the same to the
      // runtime). The first few: sandbox numbers go on across the tiers of one process.
      const tierName = runtime === 'runsc' ? 'gvisor' : 'container';
      const launcher = new OciLauncher(runtime);
      const scratch = mkdtempSync(path.join(tmpdir(), 'islet-oci-test-'));
      const ids = [1, 2, 3, 4, 5, 6].map((n) => `islet-${process.pid}-${tierName}-${n}`);
      // Made by another process, as the dead engine's were: the launcher keeps apart those its own
      // process started.
      const made = spawnSync(process.execPath, ['--input-type=module', '-e', `
        import { mkdirSync } from 'node:fs';
        import { spawnSync } from 'node:child_process';
        import path from 'node:path';
        const { OciLauncher } = await import(${JSON.stringify(path.join(import.meta.dirname, 'oci.ts'))});
        const launcher = new OciLauncher(${JSON.stringify(runtime)});
        for (const id of ${JSON.stringify(ids)}) {
          const scratchDir = path.join(${JSON.stringify(scratch)}, id);
          mkdirSync(scratchDir);
          const { command, args } = launcher.command({ id, scratchDir, node: '/usr/bin/sleep', nodeArgs: ['60'], readable: [], memoryMb: 0, network: false });
          args[args.indexOf('run')] = 'create';
          if (spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 }).status !== 0) process.exit(1);
        }`], { stdio: 'inherit', timeout: 60_000 });
      expect(made.status).toBe(0);
      expect(await launcher.containers()).toEqual(expect.arrayContaining(ids));
      const { GvisorTier } = await import('../gvisor/index.ts');
      const engine = new Engine({ tiers: [runtime === 'runsc' ? new GvisorTier({ templates: false }) : new ContainerTier({ runtime, templates: false })] });
      try {
        await engine.deploy('hello', { code: `export default { fetch: () => new Response('hi') }`, tier: tierName, needs: ['node-builtins'] });
        expect(await (await engine.fetch('hello', new Request('http://hello/'))).text()).toBe('hi');
      } finally {
        await engine.close();
        await Promise.all(ids.map((id) => launcher.cleanup({ id } as never)));
        rmSync(scratch, { recursive: true, force: true });
      }
    }, 60_000);

    it('are told apart from the live containers of another engine in the same process', async () => {
      const tierName = runtime === 'runsc' ? 'gvisor' as const : 'container' as const;
      const { GvisorTier } = await import('../gvisor/index.ts');
      const make = () => new Engine({ tiers: [runtime === 'runsc' ? new GvisorTier({ templates: false }) : new ContainerTier({ runtime, templates: false })] });
      const counter = { code: 'let n = 0; export default { fetch: () => new Response(String(++n)) }', tier: tierName };
      const [first, second] = [make(), make()];
      try {
        await first.deploy('count', { ...counter, needs: ['node-builtins'] });
        expect(await (await first.fetch('count', new Request('http://count/'))).text()).toBe('1');
        // The second engine's tier starts (and looks for leftovers) while the first's sandbox runs.
        await second.deploy('count', { ...counter, needs: ['node-builtins'] });
        expect(await (await second.fetch('count', new Request('http://count/'))).text()).toBe('1');
        // The same sandbox still answers: its count goes on.
        expect(await (await first.fetch('count', new Request('http://count/'))).text()).toBe('2');
      } finally {
        await Promise.all([first.close(), second.close()]);
      }
    }, 60_000);
  });
}
