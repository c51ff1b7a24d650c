// The Cache API from tenant code, through a real engine: what one request puts, the next one (on
// any replica) matches; functions do not see each other's caches; the Cache API's refusals reach
// the tenant as TypeErrors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../index.ts';

const WORKER = `export default {
  async fetch(request) {
    const url = new URL(request.url);
    const key = 'https://cache.test' + url.pathname;
    const cache = url.searchParams.has('named') ? await caches.open('named') : caches.default;
    switch (url.searchParams.get('op')) {
      case 'put': {
        const response = new Response(url.searchParams.get('body'), { headers: { 'cache-control': url.searchParams.get('cc') ?? 'max-age=60', etag: '"e1"' } });
        await cache.put(key, response.clone());
        return response;
      }
      case 'match': {
        const hit = await cache.match(new Request(key, { headers: request.headers }));
        return hit ?? new Response('miss', { status: 404 });
      }
      case 'delete':
        return Response.json(await cache.delete(key));
      case 'refused':
        try {
          await cache.put(new Request(key, { method: 'POST' }), new Response('x'));
          return new Response('stored');
        } catch (err) {
          return new Response(err.constructor.name + ': ' + err.message, { status: 400 });
        }
      case 'api':
        return Response.json({
          same: caches.default === caches.default,
          tag: Object.prototype.toString.call(caches),
          illegal: (() => { try { new Cache(); return false } catch (e) { return e instanceof TypeError } })(),
          cloned: (() => { try { structuredClone(caches.default); return true } catch { return false } })(),
        });
    }
    return new Response('unknown op', { status: 400 });
  },
};`;

let engine: Engine;
beforeAll(async () => {
  engine = new Engine();
  await engine.deploy('a', { code: WORKER });
  await engine.deploy('b', { code: WORKER });
});
afterAll(() => engine.close());

const call = (fn: string, query: string, headers?: Record<string, string>) => engine.fetch(fn, new Request(`http://${fn}.test/item?${query}`, { headers }));

describe('the Cache API in tenant code', () => {
  it('keeps what one request puts for the next, per function and per cache name', async () => {
    expect(await (await call('a', 'op=put&body=first')).text()).toBe('first');
    const hit = await call('a', 'op=match');
    expect([hit.status, await hit.text(), hit.headers.get('cf-cache-status'), hit.headers.get('etag')]).toEqual([200, 'first', 'HIT', '"e1"']);
    expect(await engine.metrics.text()).toMatch(/islet_cache_bytes\{function="a"\} [1-9]\d*/);
    // Another function's cache, and another cache name, are their own.
    expect((await call('b', 'op=match')).status).toBe(404);
    expect((await call('a', 'op=match&named')).status).toBe(404);
    expect(await (await call('a', 'op=delete')).json()).toBe(true);
    expect(await (await call('a', 'op=delete')).json()).toBe(false);
    expect((await call('a', 'op=match')).status).toBe(404);
  });

  it('answers conditional and range requests, and keeps nothing a shared cache may not', async () => {
    await call('a', 'op=put&body=abcdef');
    expect((await call('a', 'op=match', { 'if-none-match': '"e1"' })).status).toBe(304);
    const part = await call('a', 'op=match', { range: 'bytes=2-3' });
    expect([part.status, await part.text(), part.headers.get('content-range')]).toEqual([206, 'cd', 'bytes 2-3/6']);
    await call('a', 'op=put&body=secret&cc=private');
    expect((await call('a', 'op=match')).status).toBe(404);
  });

  it('refuses what the Cache API refuses with a TypeError, and is shaped like Workers\' API', async () => {
    const refused = await call('a', 'op=refused');
    expect([refused.status, await refused.text()]).toEqual([400, 'TypeError: Cannot cache response to non-GET request.']);
    expect(await (await call('a', 'op=api')).json()).toEqual({ same: true, tag: '[object CacheStorage]', illegal: true, cloned: false });
  });

  it('outlives the isolate that filled it, and goes with its function', async () => {
    await call('b', 'op=put&body=kept');
    await engine.deploy('b', { code: WORKER + '\n// a new version' });
    expect(await (await call('b', 'op=match')).text()).toBe('kept');
    await engine.undeploy('b');
    await engine.deploy('b', { code: WORKER });
    expect((await call('b', 'op=match')).status).toBe(404);
  });

  it('counts each call as a subrequest, as Workers do', async () => {
    await engine.deploy('few', {
      code: `export default { async fetch() {
        const out = [];
        for (let i = 0; i < 3; i++) out.push(await caches.default.match('https://c.test/' + i).then(() => 'ok', (e) => e.message));
        return Response.json(out);
      } }`,
      limits: { maxSubrequests: 2 },
    });
    const answers = await (await engine.fetch('few', new Request('http://few.test/'))).json();
    expect(answers).toEqual(['ok', 'ok', 'too many subrequests (a request may make 2, Cache API calls included)']);
  });

  it('keeps the live version\'s cache through a deploy that fails, and counts nothing a removed function still puts', async () => {
    await engine.deploy('kept', { code: WORKER });
    await call('kept', 'op=put&body=live');
    await expect(engine.deploy('kept', { code: 'throw new Error("no")', limits: { cacheMb: 1 } })).rejects.toThrow();
    expect(await (await call('kept', 'op=match')).text()).toBe('live');
    // A version that puts after its answer, undeployed meanwhile: its late put is refused, and
    // the engine's count comes back to what the other functions hold.
    await engine.deploy('late', {
      code: `export default { fetch(request, env, ctx) {
        ctx.waitUntil(new Promise((r) => setTimeout(r, 150)).then(() => caches.default.put('https://l.test/', new Response('x'.repeat(100000)))).catch(() => {}));
        return new Response('answered');
      } }`,
    });
    const before = (engine.status().cache as { usedMb: number }).usedMb;
    expect(await (await engine.fetch('late', new Request('http://late.test/'))).text()).toBe('answered');
    await engine.undeploy('late');
    await new Promise((r) => setTimeout(r, 300));
    expect((engine.status().cache as { usedMb: number }).usedMb).toBe(before);
  });
});
