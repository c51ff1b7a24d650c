// A hostile tenant in the container tier: it cannot read the host's files, see its processes or
// reach the network, neither through the engine (bubblewrap plus Node's permission model) nor
// with Node's permission model out of the way (bubblewrap alone).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../index.ts';
import { findExecutable } from '../host-binaries.ts';
import { hostileProbes } from '../hostile-probes.ts';
import { ProcessTier } from '../process/index.ts';
import { bubblewrapArgs, ContainerTier } from './index.ts';

const { probes } = hostileProbes();
const container = new ContainerTier();
const missing = container.unavailable();

describe.skipIf(missing)(`a hostile tenant in the container tier${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('through the engine: no host files, no host processes, no writes, no network', async () => {
    const engine = new Engine({ tiers: [new ProcessTier(), container] });
    try {
      await engine.deploy('hostile', {
        code: `export default { async fetch() { ${probes()} return Response.json(results); } }`,
        tier: 'container',
        needs: ['node-builtins'],
        limits: { cpuMs: 2_000 },
      });
      const results = await (await engine.fetch('hostile', new Request('http://hostile/'))).json() as Record<string, string>;
      for (const [probe, result] of Object.entries(results)) expect(`${probe}: ${result}`).toMatch(new RegExp(`^${probe}: denied`));
    } finally {
      await engine.close();
    }
  });

  it("bubblewrap alone holds, with Node's permission model off", () => {
    const args = bubblewrapArgs({ node: process.execPath, nodeArgs: ['--input-type=module', '-e', `${probes()} console.log(JSON.stringify(results));`], readable: [], network: false });
    const run = spawnSync(findExecutable('bwrap')!, args, { encoding: 'utf8', timeout: 20_000 });
    expect(run.stderr).toBe('');
    const results = JSON.parse(run.stdout) as Record<string, string>;
    expect(results.passwd).toMatch(/^denied: ENOENT/);
    expect(results.repo).toMatch(/^denied: ENOENT/);
    expect(results.hostProcesses).toMatch(/^denied: FEW/);
    expect(results.loopback).toMatch(/^denied: (ECONNREFUSED|ENETUNREACH)/);
    expect(results.internet).toMatch(/^denied: (ENETUNREACH|TIMEOUT)/);
    // /tmp is the sandbox's own tmpfs: writable inside, gone with it.
    expect(results.write).toMatch(/^ok/);
  });
});

describe('a hostile tenant in the process tier', () => {
  it("Node's permission model refuses the host's files (the network it does not cover: see README)", async () => {
    const engine = new Engine({ tiers: [new ProcessTier()] });
    try {
      await engine.deploy('nosy', { code: `export default { async fetch() { ${probes()} return Response.json(results); } }`, tier: 'process', limits: { cpuMs: 2_000 } });
      const results = await (await engine.fetch('nosy', new Request('http://nosy/'))).json() as Record<string, string>;
      expect(results.passwd).toMatch(/^denied: ERR_ACCESS_DENIED/);
      expect(results.repo).toMatch(/^denied: ERR_ACCESS_DENIED/);
      expect(results.write).toMatch(/^denied: ERR_ACCESS_DENIED/);
    } finally {
      await engine.close();
    }
  });
});
