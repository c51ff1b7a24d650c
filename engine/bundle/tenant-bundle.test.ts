import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { bundleEntry, bundleSource } from './index.ts';

describe('tenant bundles', () => {
  it('as a script, evaluate to the module\'s exports, in strict mode, with top-level names kept local', async () => {
    const bundle = await bundleSource('const secret = 1; export const strict = (function () { return this === undefined; })(); export default { fetch() { return secret; } };', 'f', { format: 'script' });
    expect(bundle.format).toBe('script');
    const context = vm.createContext({});
    const exported = vm.runInContext(bundle.code, context);
    expect(exported.default.fetch()).toBe(1);
    expect(exported.strict).toBe(true);
    expect(vm.runInContext('typeof secret + typeof module + typeof exports', context)).toBe('undefinedundefinedundefined');
  });

  it('stay modules where only a module can say it: top-level await, import.meta', async () => {
    for (const source of ['const x = await Promise.resolve(1); export default { fetch: () => x };', 'export default { fetch: () => import.meta.url };']) {
      const bundle = await bundleSource(source, 'f', { format: 'script' });
      expect(bundle.format).toBe('module');
      expect(bundle.code).toContain('export {');
    }
    expect((await bundleSource('export default {}', 'f')).format).toBe('module');
  });

  it('replace process.env.NODE_ENV, which npm packages branch on, and leave no other `process` behind', async () => {
    const bundle = await bundleSource('export default { fetch: () => [process.env.NODE_ENV === "production" ? "lean" : "dev", typeof process] };', 'f', { format: 'script' });
    expect(vm.runInContext(bundle.code, vm.createContext({})).default.fetch()).toEqual(['lean', 'undefined']);
  });

  it('say plainly that an entry file does not exist', async () => {
    await expect(bundleEntry('/no/such/dir/worker.ts')).rejects.toThrow(/the entry file \/no\/such\/dir\/worker\.ts does not exist/);
  });

  it('as a script, keep a source map that points into the source', async () => {
    const bundle = await bundleSource('export default {\n  fetch() {\n    throw new Error("here");\n  }\n};', 'f', { format: 'script' });
    const map = JSON.parse(bundle.sourceMap!);
    expect(map.sources).toEqual(['f.ts']);
    expect(bundle.code.split('\n')[0]).toContain('"use strict"');
  });

  it('made from the same code under two names are the same bundle, each naming its own file', async () => {
    const source = 'export default function () { return new Response("x"); }';
    for (const format of ['script', 'module'] as const) {
      const [a, b] = await Promise.all([bundleSource(source, 'alpha', { format }), bundleSource(source, 'beta', { format })]);
      expect(b.code).toBe(a.code);
      expect([JSON.parse(a.sourceMap!).sources, JSON.parse(b.sourceMap!).sources]).toEqual([['alpha.ts'], ['beta.ts']]);
    }
    await expect(bundleSource('export default {\n  fetch() { return 1 +; }\n};', 'broken')).rejects.toThrow(/^broken\.ts:2:\d+: error/m);
  });
});
