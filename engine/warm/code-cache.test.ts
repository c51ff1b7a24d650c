import ivm from 'isolated-vm';
import { describe, expect, it, vi } from 'vitest';
import { createOutboundFetch } from '../egress/index.ts';
import { bundleSource } from '../bundle/index.ts';
import { DEFAULT_LIMITS } from '../limits.ts';
import { IsolateTier } from '../tiers/isolate/index.ts';
import type { SandboxSpec } from '../tiers/tier.ts';
import { CodeCache } from './index.ts';

const bytes = (n: number) => new ivm.ExternalCopy(new ArrayBuffer(n));
const request = { method: 'GET', url: 'http://s.test/path', headers: [], body: null };

async function scriptSpec(name: string, source: string): Promise<SandboxSpec> {
  const bundle = await bundleSource(source, name, { format: 'script' });
  expect(bundle.format).toBe('script');
  const log = { console() {}, event() {} };
  return { name, code: bundle.code, format: 'script', codeKey: CodeCache.key(bundle.code), limits: DEFAULT_LIMITS, env: { WHO: 'env' }, outbound: createOutboundFetch(), log };
}

describe('code cache', () => {
  it('keys bundles by content and counts hits and misses', () => {
    expect(CodeCache.key('a')).toBe(CodeCache.key('a'));
    expect(CodeCache.key('a')).not.toBe(CodeCache.key('b'));
    const cache = new CodeCache();
    expect(cache.get('k')).toBeUndefined();
    cache.set('k', bytes(10));
    expect(cache.get('k')).toBeDefined();
    expect(cache.stats()).toEqual({ entries: 1, bytes: 10, hits: 1, misses: 1, rejected: 0 });
    cache.reject('k');
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0, rejected: 1 });
  });

  it('keeps at most maxBytes, dropping the least recently used', () => {
    const cache = new CodeCache({ maxBytes: 100 });
    cache.set('a', bytes(40));
    cache.set('b', bytes(40));
    cache.get('a');
    cache.set('c', bytes(40));
    expect([cache.get('a'), cache.get('b'), cache.get('c')].map(Boolean)).toEqual([true, false, true]);
    expect(cache.stats().bytes).toBe(80);
    expect(() => new CodeCache({ maxBytes: 0 })).toThrow(RangeError);
  });

  it('a second cold start of a bundle compiles from the first one\'s cache and behaves the same', async () => {
    const codeCache = new CodeCache();
    const tier = new IsolateTier({ templates: false, codeCache });
    const spec = await scriptSpec('cached', 'let n = 0; export default { fetch: (r, env) => new Response(`${++n} ${env.WHO} ${new URL(r.url).pathname}`) }');
    const first = await tier.start(spec);
    const second = await tier.start(spec);
    expect(codeCache.stats()).toMatchObject({ entries: 1, hits: 1, misses: 1, rejected: 0 });
    // Each isolate has its own module state: the cache holds code, not values.
    for (const sandbox of [first, second]) expect(await sandbox.invoke(request)).toMatchObject({ status: 200, body: '1 env /path' });
    first.stop();
    second.stop();
  });

  it('the same code deployed under two names shares one entry, and an accepted entry is not made again', async () => {
    const codeCache = new CodeCache();
    const stored = vi.spyOn(codeCache, 'set');
    const tier = new IsolateTier({ templates: false, codeCache });
    const source = 'export default { fetch: () => new Response("same") }';
    const [one, two] = await Promise.all([scriptSpec('one', source), scriptSpec('two', source)]);
    expect(two.codeKey).toBe(one.codeKey);
    const sandboxes = [await tier.start(one), await tier.start(two), await tier.start(two)];
    expect(codeCache.stats()).toMatchObject({ entries: 1, hits: 2, misses: 1, rejected: 0 });
    expect(stored).toHaveBeenCalledTimes(1);
    for (const sandbox of sandboxes) sandbox.stop();
  });

  it('falls back to compiling the source when V8 rejects the cached data, and replaces it', async () => {
    const codeCache = new CodeCache();
    const tier = new IsolateTier({ templates: false, codeCache });
    const spec = await scriptSpec('rejected', 'export default { fetch: () => new Response("still fine") }');
    codeCache.set(spec.codeKey!, new ivm.ExternalCopy(new Uint8Array(4096).fill(7).buffer));
    const sandbox = await tier.start(spec);
    expect(await sandbox.invoke(request)).toMatchObject({ status: 200, body: 'still fine' });
    expect(codeCache.stats()).toMatchObject({ entries: 1, rejected: 1 });
    sandbox.stop();
    const again = await tier.start(spec);
    expect(codeCache.stats()).toMatchObject({ rejected: 1, hits: 2 });
    again.stop();
  });
});
