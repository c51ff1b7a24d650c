// The same fixtures through the real HTTP server on every tier this host can run: each answers
// exactly as the isolate tier does, limits fire with the same error shapes, and the tiers that
// run processes replace a crashed sandbox and let the keep-alive reap idle ones.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, createGateway, serveGateway, type TierName } from '../index.ts';
import { request, type TestResponse } from '../gateway/test-http.ts';
import { ContainerTier, ProcessTier } from './index.ts';

const fixture = (name: string, file = 'index.ts') => fileURLToPath(new URL(`../../fixtures/${name}/${file}`, import.meta.url));
const TOKEN = 'tiers-test-token';

const processTier = new ProcessTier();
const containerTier = new ContainerTier();
const engine = new Engine({ tiers: [processTier, containerTier] });
let url: string;
let close: () => Promise<void>;

const TIERS: { tier: TierName; missing: string | undefined }[] = [
  { tier: 'isolate', missing: undefined },
  { tier: 'process', missing: processTier.unavailable() },
  { tier: 'container', missing: containerTier.unavailable() },
];
const runnable = TIERS.filter((t) => !t.missing);
for (const t of TIERS) if (t.missing) console.warn(`skipping the ${t.tier} tier: ${t.missing}`);

const FIXTURES = [
  { name: 'hello', entry: fixture('hello') },
  { name: 'api', entry: fixture('json-api'), env: { GREETING: 'hej' } },
  { name: 'hog', entry: fixture('cpu-hog', 'index.js'), limits: { cpuMs: 50 } },
  { name: 'bomb', entry: fixture('memory-bomb', 'index.js'), limits: { memoryMb: 32, cpuMs: 5_000 } },
  { name: 'throws', entry: fixture('throws', 'index.js') },
];

const get = (fn: string, tier: TierName, path = '/', init: { method?: string; body?: string } = {}) =>
  request(url, { host: `${fn}-${tier}.localhost`, path, ...init });

/** What must agree across tiers: status, the islet-error header, content type and body. */
const shape = (res: TestResponse) => ({ status: res.status, error: res.headers['islet-error'], type: res.headers['content-type'], body: res.text });

beforeAll(async () => {
  const served = await serveGateway(createGateway(engine, { adminToken: TOKEN }), { port: 0, host: '127.0.0.1' });
  url = served.url;
  close = served.close;
  await Promise.all(runnable.flatMap(({ tier }) => FIXTURES.map(({ name, ...config }) => engine.deploy(`${name}-${tier}`, { ...config, tier }))));
}, 60_000);

afterAll(async () => {
  await close();
  await engine.close();
});

describe.each(runnable.filter((t) => t.tier !== 'isolate'))('the $tier tier', ({ tier }) => {
  it('answers hello exactly as the isolate tier does', async () => {
    expect(shape(await get('hello', tier))).toEqual(shape(await get('hello', 'isolate')));
    expect((await get('hello', tier)).text).toBe('Hello World!');
  });

  it('routes, parses JSON bodies and reads env as the isolate tier does', async () => {
    expect(shape(await get('api', tier, '/greeting?name=Ada'))).toEqual(shape(await get('api', 'isolate', '/greeting?name=Ada')));
    const created = await get('api', tier, '/todos', { method: 'POST', body: JSON.stringify({ title: 'ship it' }) });
    expect(created.status).toBe(201);
    const todo = created.json();
    expect(todo).toMatchObject({ title: 'ship it', done: false });
    expect(created.headers.location).toBe(`/todos/${todo.id}`);
    expect((await get('api', tier, `/todos/${todo.id}`)).json()).toEqual(todo);
    expect(shape(await get('api', tier, '/todos', { method: 'POST', body: '{nope' }))).toEqual(shape(await get('api', 'isolate', '/todos', { method: 'POST', body: '{nope' })));
  });

  it('a tenant that throws answers 500 with islet-error: exception, as on the isolate tier', async () => {
    const [res, iso] = [await get('throws', tier), await get('throws', 'isolate')];
    expect({ ...shape(res), body: undefined }).toEqual({ ...shape(iso), body: undefined });
    expect(res.json()).toEqual({ ...iso.json(), function: `throws-${tier}` });
    expect((await get('throws', tier, '/not-a-response')).status).toBe(500);
  });

  it('stops a CPU hog with islet-error: cpu-limit, also after an await, and serves again after', async () => {
    for (const path of ['/', '/?after-await']) {
      const started = performance.now();
      const res = await get('hog', tier, path);
      expect(res.status).toBe(503);
      expect(res.headers['islet-error']).toBe('cpu-limit');
      expect(res.json()).toMatchObject({ error: 'cpu_limit_exceeded', function: `hog-${tier}` });
      expect(performance.now() - started).toBeLessThan(5_000);
    }
  });

  it('stops a memory bomb (heap and ArrayBuffers) with islet-error: memory-limit', async () => {
    for (const path of ['/', '/?buffers']) {
      const res = await get('bomb', tier, path);
      expect(res.status).toBe(503);
      expect(res.headers['islet-error']).toBe('memory-limit');
      expect(res.json()).toMatchObject({ error: 'memory_limit_exceeded', function: `bomb-${tier}` });
    }
    expect((await get('hello', tier)).status).toBe(200);
  });
});

describe.each(runnable.filter((t) => t.tier !== 'isolate'))('sandbox lifecycle on the $tier tier', ({ tier }) => {
  it('a crash answers 502 sandbox-crashed and the next request gets a new sandbox', async () => {
    await engine.deploy(`crash-${tier}`, {
      code: 'let n = 0; export default { fetch(r) { if (new URL(r.url).pathname === "/exit") process.exit(3); return new Response(`pid ${process.pid} n ${++n}`); } }',
      tier,
      needs: ['node-builtins'],
    });
    expect((await get('crash', tier)).text).toMatch(/ n 1$/);
    expect((await get('crash', tier)).text).toMatch(/ n 2$/);
    const crashed = await get('crash', tier, '/exit');
    expect(crashed.status).toBe(502);
    expect(crashed.headers['islet-error']).toBe('sandbox-crashed');
    expect((await get('crash', tier)).text).toMatch(/ n 1$/);
  });

  it('answers health checks through its boundary until stopped', async () => {
    const tierObject = tier === 'process' ? processTier : containerTier;
    const log = { console() {}, event() {} };
    const sandbox = await tierObject.start({ name: 'health', code: 'export default { fetch: () => new Response("") }', limits: engine.defaultLimits, env: {}, log, outbound: () => Promise.reject(new Error('none')) });
    expect(await sandbox.health()).toBe(true);
    sandbox.stop();
    expect(sandbox.alive).toBe(false);
    expect(await sandbox.health()).toBe(false);
  });

  it('the keep-alive sweep unloads an idle sandbox; the next request starts one', async () => {
    await engine.deploy(`idle-${tier}`, { entry: fixture('hello'), tier });
    const live = engine.liveCount;
    engine.sweep(Date.now() + 11 * 60_000);
    expect(engine.liveCount).toBeLessThan(live);
    expect((await get('idle', tier)).text).toBe('Hello World!');
  });

  it('enforces the wall-clock limit and keeps serving', async () => {
    await engine.deploy(`slow-${tier}`, { code: 'export default { async fetch() { await new Promise((r) => setTimeout(r, 5000)); return new Response("late"); } }', tier, limits: { wallMs: 100 } });
    const res = await get('slow', tier);
    expect(res.status).toBe(503);
    expect(res.headers['islet-error']).toBe('wall-limit');
  });

  it("runs the tenant's fetch() through the host, under the function's egress policy", async () => {
    const upstream = http.createServer((req, res) => res.end(`upstream saw ${req.method} ${req.url}`));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const target = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/x`;
    const code = `export default { async fetch() { try { const r = await fetch(${JSON.stringify(target)}); return new Response(await r.text()); } catch (e) { return new Response(String(e), { status: 599 }); } } }`;
    try {
      await engine.deploy(`egress-${tier}`, { code, tier });
      const refused = await get('egress', tier);
      expect(refused.status).toBe(599);
      expect(refused.text).toMatch(/TypeError/);
      await engine.deploy(`egress-${tier}`, { code, tier, egress: { allowPrivate: true } });
      expect((await get('egress', tier)).text).toBe('upstream saw GET /x');
    } finally {
      upstream.close();
    }
  });
});

describe('choosing a tier', () => {
  it('the admin API deploys on a named tier and says which and why', async () => {
    const res = await request(url, {
      method: 'PUT',
      path: '/_islet/functions/adm',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ code: 'export default { fetch: () => new Response("ok") }', tier: 'auto', needs: ['node-builtins'] }),
    });
    expect(res.status).toBe(201);
    expect(res.json()).toMatchObject({ tier: 'process', needs: ['node-builtins'], tierReason: expect.stringContaining('cheapest available tier') });
    expect((await request(url, { host: 'adm.localhost' })).text).toBe('ok');
    const bad = await request(url, {
      method: 'PUT',
      path: '/_islet/functions/adm2',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ code: 'export default {}', tier: 'isolate', needs: ['node-builtins'] }),
    });
    expect(bad.status).toBe(400);
    expect(bad.json().message).toMatch(/tier "isolate" does not satisfy node-builtins/);
  });

  it('auto with no needs stays on isolates; Node built-ins need a tier with Node', async () => {
    expect((await engine.deploy('auto-plain', { entry: fixture('hello'), tier: 'auto' })).tier).toBe('isolate');
    const code = 'import { createHash } from "node:crypto"; export default { fetch: () => new Response(createHash("sha256").update("x").digest("hex")) }';
    await expect(engine.deploy('builtin-iso', { code })).rejects.toThrow(/Node built-in "node:crypto" is not available in the isolate tier/);
    const r = await engine.deploy('builtin-auto', { code, tier: 'auto', needs: ['node-builtins'] });
    expect(r.tier).toBe('process');
    expect(await (await engine.fetch('builtin-auto', new Request('http://x/'))).text()).toBe('2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
  });
});
