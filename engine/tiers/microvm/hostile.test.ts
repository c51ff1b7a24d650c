// A hostile tenant in the microVM tier: its Node runs in a guest with no network device and no
// files of the host's but the read-only disk holding Node and the runtime. The VM is the whole
// boundary here (the guest's Node runs without the permission model), so every probe goes as
// far as the guest kernel lets it.
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
    } finally {
      await engine.close();
    }
  }, 60_000);
});
