// Functions that need native addons: their packages stay out of the bundle and are loaded at run
// time from node_modules, in a tier whose boundary is the kernel's (native code is not bound by
// Node's permission model).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, Engine } from '../index.ts';
import { bundleEntry } from '../bundle/index.ts';
import { ContainerTier, ProcessTier } from './index.ts';

const ENTRY = fileURLToPath(new URL('../../fixtures/native-addon/index.ts', import.meta.url));
const ADDON = fileURLToPath(new URL('../../node_modules/@napi-rs/nice/package.json', import.meta.url));
const container = new ContainerTier();
const missing = !existsSync(ADDON) ? '@napi-rs/nice is not installed (an optional dependency of piscina)' : container.unavailable();
if (missing) console.warn(`skipping native addon tests: ${missing}`);

describe.skipIf(missing)('native addons', () => {
  let engine: Engine;
  beforeAll(() => {
    engine = new Engine({ tiers: [new ProcessTier(), container], sched: { quarantine: false } });
  });
  afterAll(() => engine.close());

  it('leave the bundle: the package is imported from node_modules at run time', async () => {
    const bundle = await bundleEntry(ENTRY, { packagesAtRunTime: true });
    expect(bundle.code).toMatch(/import \{ getCurrentProcessPriority \} from "\/.*\/node_modules\/@napi-rs\/nice\/nice\.js"/);
    expect(bundle.packageRoot).toBe(fileURLToPath(new URL('../../node_modules', import.meta.url)));
  });

  it('run in the cheapest tier with a kernel boundary, which loads the addon', async () => {
    const deployed = await engine.deploy('nice', { entry: ENTRY, tier: 'auto', needs: ['native'] });
    expect(deployed.tier).toBe('container');
    expect(deployed.tierReason).toContain('native');
    const res = await engine.fetch('nice', new Request('http://nice.test/'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ priority: expect.any(Number) });
  });

  it('are refused where they cannot run: code without node_modules, the process tier, the isolate tier', async () => {
    const code = await engine.deploy('inline', { code: 'export default { fetch: () => new Response("x") }', tier: 'auto', needs: ['native'] }).catch((e) => e);
    expect(code).toBeInstanceOf(ConfigError);
    expect(code.message).toContain('"entry"');
    for (const tier of ['process', 'isolate'] as const) {
      const err = await engine.deploy('nice-here', { entry: ENTRY, tier, needs: ['native'] }).catch((e) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toMatch(/does not satisfy native; tiers that do: container/);
    }
  });
});
