// OCI runtimes keep a container's state until it is deleted; an engine killed with SIGKILL leaves
// its containers' behind, named for its pid, which a later engine may be given again.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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
      for (const id of ids) {
        const scratchDir = path.join(scratch, id);
        mkdirSync(scratchDir);
        const { command, args } = launcher.command({ id, scratchDir, node: '/usr/bin/sleep', nodeArgs: ['60'], readable: [], memoryMb: 0, network: false });
        args[args.indexOf('run')] = 'create';
        expect(spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 }).status).toBe(0);
      }
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
