// A hostile tenant in the microVM tier: its Node runs in a guest with no network device and no
// files of the host's but the read-only disk holding Node and the runtime. The VM is the whole
// boundary here (the guest's Node runs without the permission model), so every probe goes as
// far as the guest kernel lets it.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../index.ts';
import { hostileProbes } from '../hostile-probes.ts';
import { MicrovmTier } from './index.ts';

const { probes } = hostileProbes();
const microvm = new MicrovmTier({ templates: false });
const missing = microvm.unavailable();

describe.skipIf(missing)(`a hostile tenant in the microvm tier${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('reads no host files, reaches no network, cannot write the shared disk', async () => {
    const engine = new Engine({ tiers: [microvm] });
    try {
      const code = `export default { async fetch() {
        ${probes()}
        results.sharedDisk = await tryIt(() => fs.writeFileSync('/node/owned', 'x'));
        results.kernel = await tryIt(() => fs.readFileSync('/proc/cmdline', 'utf8'));
        return Response.json(results);
      } }`;
      await engine.deploy('hostile', { code, tier: 'microvm', needs: ['node-builtins'], limits: { cpuMs: 5_000 } });
      const results = await (await engine.fetch('hostile', new Request('http://hostile/'))).json() as Record<string, string>;
      expect(results.passwd).toMatch(/^denied: ENOENT/);
      expect(results.repo).toMatch(/^denied: ENOENT/);
      expect(results.loopback).toMatch(/^denied: (ECONNREFUSED|ENETUNREACH)/);
      expect(results.internet).toMatch(/^denied: (ENETUNREACH|TIMEOUT)/);
      expect(results.sharedDisk).toMatch(/^denied: EROFS/);
      // The guest's own kernel, booted for this VM, and its own scratch space.
      expect(results.kernel).toMatch(/^ok: console=ttyS0 /);
      expect(results.write).toMatch(/^ok/);
      // Its QEMU runs under QEMU's seccomp filter (mode 2, with no new privileges): an escape from
      // the emulator does not get every system call of the engine's user (root here).
      const [qemu] = qemus();
      expect(qemu).toMatch(/^Seccomp:\s+2$/m);
      expect(qemu).toMatch(/^NoNewPrivs:\s+1$/m);
    } finally {
      await engine.close();
    }
  }, 60_000);

  it('has a timer that burns half a host core after its answer metered: its VM is ended, not kept burning', async () => {
    const engine = new Engine({ tiers: [microvm] });
    try {
      // 45 ms of every 100 ms: 4.5 ms a look once divided by the VM's slowdown, under the idle
      // check's threshold, with pauses that ended the watchdog's ticks; it burnt on for minutes.
      const code = `export default { fetch() {
          setInterval(() => { const end = Date.now() + 45; while (Date.now() < end); }, 100);
          return new Response('burning');
        } }`;
      await engine.deploy('burner', { code, tier: 'microvm', needs: ['node-builtins'], limits: { cpuMs: 50 } });
      expect(await (await engine.fetch('burner', new Request('http://burner/'))).text()).toBe('burning');
      expect(qemus()).toHaveLength(1);
      // Ended at its background budget (50 ms of its clock: about a second of burning, then the
      // idle check's next look); before, it was still burning when the keep-alive came for it.
      for (let waited = 0; qemus().length > 0 && waited < 15_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
      expect(qemus()).toEqual([]);
    } finally {
      await engine.close();
    }
  }, 60_000);
});

/** The status of each QEMU this process started (no template pool here: each is a tenant's VM). */
function qemus(): string[] {
  const descendants = (pid: number): number[] => {
    try {
      return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
        const children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
        return children.flatMap((child) => [child, ...descendants(child)]);
      });
    } catch {
      return []; // gone meanwhile
    }
  };
  return descendants(process.pid).flatMap((pid) => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return /^Name:\s+qemu/m.test(status) && !/^State:\s+Z/m.test(status) ? [status] : [];
    } catch {
      return [];
    }
  });
}
