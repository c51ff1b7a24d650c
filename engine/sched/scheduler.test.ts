// The scheduler through a real engine and, where the answer's headers matter, a real server:
// replicas scale out and in, a flood does not starve a light tenant, admission control refuses
// early, repeat offenders are quarantined.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, Engine, IsolateTier, serveGateway, type EngineOptions, type IsolationTier } from '../index.ts';
import type { ServedGateway } from '../gateway/index.ts';
import { request } from '../gateway/test-http.ts';

const fixture = (name: string, file = 'index.js') => fileURLToPath(new URL(`../../fixtures/${name}/${file}`, import.meta.url));
const get = (engine: Engine, fn: string, path = '/') => engine.fetch(fn, new Request(`http://${fn}.test${path}`));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Each isolate names itself once, so answers show which replica served them.
const SLOW = (ms: number) => `const id = Math.random().toString(36).slice(2);
  export default { async fetch() { await new Promise((r) => setTimeout(r, ${ms})); return new Response(id) } }`;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

function engineWith(options: EngineOptions): Engine {
  const engine = new Engine(options);
  cleanup.push(() => engine.close());
  return engine;
}

async function served(engine: Engine): Promise<ServedGateway> {
  const server = await serveGateway(createGateway(engine), { port: 0, host: '127.0.0.1' });
  cleanup.unshift(() => server.close(0));
  return server;
}

const replicasOf = (engine: Engine, fn: string) =>
  ((engine.status().busiest as { name: string; isolates: unknown[] }[]).find((r) => r.name === fn)?.isolates.length ?? 0);

describe('replicas', () => {
  it('scale out past the concurrency limit, share the work, and scale back in when idle', async () => {
    const engine = engineWith({ sched: { tickMs: 50, scaleInAfterMs: 300 } });
    // Slow enough that the replicas boot before the first ones free up, even on a loaded machine.
    await engine.deploy('slow', { code: SLOW(400), limits: { concurrency: 2, maxReplicas: 3 } });
    const answers = await Promise.all(Array.from({ length: 6 }, () => get(engine, 'slow').then((r) => r.text())));
    // Two at a time per isolate: six at once need three replicas, and all three served.
    expect(new Set(answers).size).toBe(3);
    expect(replicasOf(engine, 'slow')).toBe(3);
    const metrics = await engine.metrics.text();
    expect(metrics).toContain('islet_replicas{function="slow"} 3');
    await sleep(1_200);
    expect(replicasOf(engine, 'slow')).toBe(1);
    expect(await (await get(engine, 'slow')).text()).toMatch(/^[a-z0-9]+$/);
  });

  it('under the live-isolate cap, a function\'s extra replica is evicted before another function\'s last one', async () => {
    const engine = engineWith({ maxLive: 3, sched: { scaleInAfterMs: 60_000 } });
    await engine.deploy('a', { code: SLOW(100), limits: { concurrency: 1, maxReplicas: 2 } });
    await engine.deploy('b', { code: SLOW(1) });
    await get(engine, 'b');
    // b is now the least recently used isolate; a gets a second replica and uses both.
    await Promise.all([get(engine, 'a'), get(engine, 'a')]);
    expect([replicasOf(engine, 'a'), replicasOf(engine, 'b'), engine.liveCount]).toEqual([2, 1, 3]);
    await engine.deploy('c', { code: SLOW(1) });
    expect([replicasOf(engine, 'a'), replicasOf(engine, 'b'), replicasOf(engine, 'c')]).toEqual([1, 1, 1]);
    expect(engine.stats().evictions).toBe(1);
  });

  it("requests waiting for a function's first sandbox wait for its boot, though it outlasts the queue's limit", async () => {
    const isolates = new IsolateTier();
    cleanup.push(async () => isolates.close());
    const slowBoot: IsolationTier = {
      name: 'isolate',
      capabilities: isolates.capabilities,
      unavailable: () => undefined,
      start: async (spec) => {
        await sleep(400);
        return isolates.start(spec);
      },
    };
    const engine = engineWith({ tier: slowBoot, sched: { tickMs: 20, maxQueueWaitMs: 100 } });
    await engine.deploy('vm', { code: SLOW(1) });
    engine.sweep(Date.now() + 86_400_000);
    expect((await get(engine, 'vm')).status).toBe(200);
  });

  it('never go past maxReplicas: the rest wait in the queue', async () => {
    const engine = engineWith({});
    await engine.deploy('one', { code: SLOW(50), limits: { concurrency: 1, maxReplicas: 1 } });
    const answers = await Promise.all(Array.from({ length: 4 }, () => get(engine, 'one').then((r) => r.text())));
    expect(new Set(answers).size).toBe(1);
  });

  it('a CPU-bound function gets a second replica when its isolate is busy, though under its concurrency limit', async () => {
    const engine = engineWith({ sched: { tickMs: 50 } });
    await engine.deploy('crunch', {
      code: 'export default { fetch() { const end = Date.now() + 20; while (Date.now() < end); return new Response("done") } }',
      limits: { concurrency: 64, maxReplicas: 2, cpuMs: 1_000 },
    });
    const until = performance.now() + 800;
    const worker = async () => {
      while (performance.now() < until) expect((await get(engine, 'crunch')).status).toBe(200);
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    expect(replicasOf(engine, 'crunch')).toBe(2);
  });

  it('let a waiting request in when a replica\'s room comes back after the answer (waitUntil, a streamed body)', async () => {
    const engine = engineWith({ sched: { maxQueueWaitMs: 3_000 } });
    const limits = { concurrency: 1, maxReplicas: 1 };
    await engine.deploy('tail', {
      code: 'export default { fetch(r, env, ctx) { if (r.url.endsWith("/tail")) ctx.waitUntil(new Promise((done) => setTimeout(done, 300))); return new Response("ok") } }',
      limits,
    });
    await engine.deploy('stream', {
      code: `export default { fetch(r) {
        if (!r.url.endsWith("/slow")) return new Response("ok");
        let n = 0;
        return new Response(new ReadableStream({ async pull(c) { await new Promise((t) => setTimeout(t, 100)); if (n++ < 3) c.enqueue(new Uint8Array(1)); else c.close(); } }));
      } }`,
      limits,
    });
    for (const [fn, path] of [['tail', '/tail'], ['stream', '/slow']] as const) {
      const first = await get(engine, fn, path);
      expect(first.status).toBe(200);
      // The first request's work goes on after its answer, holding the one place; the next waits for it.
      const t0 = performance.now();
      const next = get(engine, fn);
      await first.arrayBuffer();
      const res = await next;
      expect([fn, res.status]).toEqual([fn, 200]);
      expect(performance.now() - t0).toBeLessThan(2_000);
    }
  });
});

describe('fair queuing', () => {
  it('a flood does not starve a light tenant', async () => {
    // Two requests in flight engine-wide: everything else waits in its function's queue.
    const engine = engineWith({ sched: { maxInFlight: 2 } });
    await engine.deploy('flood', { code: SLOW(20) });
    await engine.deploy('light', { code: SLOW(20) });
    const order: string[] = [];
    const flood = Array.from({ length: 60 }, () => get(engine, 'flood').then(() => order.push('flood')));
    await sleep(5);
    const light = get(engine, 'light').then(() => order.push('light'));
    await Promise.all([...flood, light]);
    // First come, first served would put it after all 60; round robin lets it in within a round.
    expect(order.indexOf('light')).toBeLessThan(8);
  });

  it('drop a request whose client left while it waited, without running it (499 client-closed)', async () => {
    const engine = engineWith({});
    await engine.deploy('one', {
      code: `let runs = 0; export default { async fetch(r) {
        if (new URL(r.url).pathname === '/runs') return new Response(String(runs));
        runs++; await new Promise((resolve) => setTimeout(resolve, 300)); return new Response('ran');
      } }`,
      limits: { concurrency: 1, maxReplicas: 1 },
    });
    const first = get(engine, 'one');
    await sleep(50);
    const client = new AbortController();
    const left = engine.fetch('one', new Request('http://one.test/', { signal: client.signal }));
    const stays = get(engine, 'one');
    client.abort();
    expect(await (await first).text()).toBe('ran');
    const gone = await left;
    expect([gone.status, gone.headers.get('islet-error')]).toEqual([499, 'client-closed']);
    expect(await (await stays).text()).toBe('ran');
    expect(await (await get(engine, 'one', '/runs')).text()).toBe('2');
  });

  it('free the queue places of clients that left, wherever they wait in it', async () => {
    const engine = engineWith({ sched: { tickMs: 20 } });
    await engine.deploy('one', { code: SLOW(400), limits: { concurrency: 1, maxReplicas: 1, maxQueue: 2 } });
    const running = get(engine, 'one');
    await sleep(50);
    const staying = get(engine, 'one');
    const client = new AbortController();
    const leaving = engine.fetch('one', new Request('http://one.test/', { signal: client.signal }));
    client.abort();
    await sleep(100);
    // The queue holds one live request and no ghost: a new one still fits.
    const late = await Promise.all([get(engine, 'one'), leaving, running, staying]);
    expect(late.map((r) => r.status)).toEqual([200, 499, 200, 200]);
  });
});

describe('admission control', () => {
  it('refuses at once with 503 overloaded and Retry-After when a function\'s queue is full', async () => {
    const engine = engineWith({});
    await engine.deploy('narrow', { code: SLOW(1_000), limits: { concurrency: 1, maxReplicas: 1, maxQueue: 2 } });
    const { url } = await served(engine);
    const started = performance.now();
    const answers = Array.from({ length: 5 }, () => request(url, { host: 'narrow.localhost' }).then((r) => ({ r, ms: performance.now() - started })));
    const done = await Promise.all(answers);
    const refused = done.filter(({ r }) => r.status === 503);
    expect(refused).toHaveLength(2);
    for (const { r, ms } of refused) {
      expect(r.headers['islet-error']).toBe('overloaded');
      expect(r.headers['retry-after']).toBe('1');
      expect(r.json()).toMatchObject({ error: 'overloaded', function: 'narrow' });
      // Refused at once, not after the requests ahead of them (a second or more).
      expect(ms).toBeLessThan(600);
    }
    expect(done.filter(({ r }) => r.status === 200)).toHaveLength(3);
    expect(await engine.metrics.text()).toContain('islet_shed_total{function="narrow",reason="queue"} 2');
  });

  it('under memory pressure refuses the busiest functions, and lets a light one in', async () => {
    let rss = 100 * 1048576;
    const engine = engineWith({ readRss: () => rss, sched: { maxRssMb: 500, tickMs: 20 } });
    await engine.deploy('heavy', { code: SLOW(400) });
    await engine.deploy('light', { code: SLOW(1) });
    const inFlight = Array.from({ length: 4 }, () => get(engine, 'heavy'));
    rss = 600 * 1048576;
    await sleep(60);
    expect(engine.status().scheduler).toMatchObject({ shedding: 'memory' });
    const refused = await get(engine, 'heavy');
    expect([refused.status, refused.headers.get('islet-error'), refused.headers.get('retry-after')]).toEqual([503, 'overloaded', '1']);
    expect((await get(engine, 'light')).status).toBe(200);
    expect((await Promise.all(inFlight)).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    rss = 100 * 1048576;
    await sleep(60);
    expect((await get(engine, 'heavy')).status).toBe(200);
  });

  it('under pressure refuses clients\' requests, not the service-binding calls of requests already let in', async () => {
    let rss = 100 * 1048576;
    const engine = engineWith({ readRss: () => rss, sched: { maxRssMb: 500, tickMs: 20 } });
    // Its request, let in, makes a call every 30 ms for a while; the calls alone give the
    // function a request rate, the engine's highest, once memory passes its bound.
    await engine.deploy('tree', {
      code: `export default { async fetch(request, env) {
        if (new URL(request.url).pathname === '/leaf') return new Response('.');
        let answers = '';
        for (let i = 0; i < 10; i++) { answers += await (await env.SELF.fetch('http://tree.test/leaf')).text(); await scheduler.wait(30); }
        return new Response(answers);
      } }`,
      services: { SELF: 'tree' },
    });
    const root = get(engine, 'tree');
    await sleep(60);
    rss = 600 * 1048576;
    await sleep(60);
    expect(engine.status().scheduler).toMatchObject({ shedding: 'memory' });
    expect([(await get(engine, 'tree')).status]).toEqual([503]);
    expect(await (await root).text()).toBe('..........');
  });

  it('when the event loop lags, refuses the function sending the requests', async () => {
    const engine = engineWith({ sched: { maxEventLoopLagMs: 40, tickMs: 25 } });
    await engine.deploy('busy', { code: SLOW(600) });
    await engine.deploy('light', { code: SLOW(1) });
    const inFlight = Array.from({ length: 3 }, () => get(engine, 'busy'));
    // Two stalls, with the scheduler's tick in between: lag that lasts, not one late tick.
    for (let stall = 0; stall < 2; stall++) {
      const end = Date.now() + 120;
      while (Date.now() < end);
      await sleep(0);
    }
    const deadline = performance.now() + 1_000;
    while (engine.status().scheduler && (engine.status().scheduler as { shedding: unknown }).shedding !== 'event-loop-lag') {
      expect(performance.now()).toBeLessThan(deadline);
      await sleep(1);
    }
    // Both in the same turn as the check above: the pressure is still on.
    const refused = get(engine, 'busy');
    const admitted = get(engine, 'light');
    expect((await refused).headers.get('islet-error')).toBe('overloaded');
    expect((await admitted).status).toBe(200);
    await Promise.all(inFlight);
    expect(await engine.metrics.text()).toMatch(/islet_shed_total\{function="busy",reason="event-loop-lag"\} 1/);
  });
});

describe('quarantine', () => {
  it('backs off a function that keeps hitting its limits, for longer each time, and nobody else', async () => {
    const engine = engineWith({ sched: { quarantine: { strikes: 3, windowMs: 10_000, baseMs: 1_100, maxMs: 10_000, forgiveAfterMs: 60_000, holdMs: 0 } } });
    await engine.deploy('hog', { entry: fixture('cpu-hog'), limits: { cpuMs: 20 } });
    await engine.deploy('hello', { entry: fixture('hello', 'index.ts') });
    const { url } = await served(engine);
    const hit = () => request(url, { host: 'hog.localhost' });
    for (let i = 0; i < 3; i++) expect((await hit()).headers['islet-error']).toBe('cpu-limit');
    const first = await hit();
    expect([first.status, first.headers['islet-error'], first.headers['retry-after']]).toEqual([503, 'quarantined', '2']);
    expect(first.json()).toMatchObject({ error: 'quarantined', function: 'hog' });
    expect((await request(url, { host: 'hello.localhost' })).status).toBe(200);
    await sleep(1_150);
    // On probation: one more kill sends it back, for twice as long.
    expect((await hit()).headers['islet-error']).toBe('cpu-limit');
    const second = await hit();
    expect([second.headers['islet-error'], second.headers['retry-after']]).toEqual(['quarantined', '3']);
    const metrics = await engine.metrics.text();
    expect(metrics).toContain('islet_limit_kills_total{function="hog",limit="cpu"} 4');
    // The refusals booted nothing: only the requests after each kill were cold starts.
    expect(metrics).toContain('islet_cold_starts_total{function="hog"} 3');
  });

  it('does not let one client shut a function out for everyone: kills must be a large share of its requests', async () => {
    const engine = engineWith({ sched: { quarantine: { strikes: 3, windowMs: 10_000, baseMs: 5_000, holdMs: 0 } } });
    // Its parsing is slow for one input: any client can make it hit its CPU limit.
    await engine.deploy('parser', {
      code: 'export default { fetch(req) { if (new URL(req.url).searchParams.has("evil")) for (;;) {} return new Response("parsed") } }',
      limits: { cpuMs: 20 },
    });
    for (let round = 0; round < 6; round++) {
      expect((await get(engine, 'parser', '/?evil')).headers.get('islet-error')).toBe('cpu-limit');
      for (let i = 0; i < 2; i++) expect(await (await get(engine, 'parser')).text()).toBe('parsed');
    }
    expect(engine.metrics.meter('parser').limitKills.cpu).toBe(6);
    // The same kills with nobody else's requests answered: the function is what fails.
    for (let i = 0; i < 5; i++) await get(engine, 'parser', '/?evil');
    expect((await get(engine, 'parser')).headers.get('islet-error')).toBe('quarantined');
  });

  it('holds a quarantined function\'s refusals before sending them, at most maxHeld at once, and none past close', async () => {
    const engine = engineWith({ sched: { quarantine: { strikes: 1, baseMs: 5_000, holdMs: 400, maxHeld: 2 } } });
    await engine.deploy('hog', { entry: fixture('cpu-hog'), limits: { cpuMs: 20 } });
    await engine.deploy('hello', { entry: fixture('hello', 'index.ts') });
    expect((await get(engine, 'hog')).headers.get('islet-error')).toBe('cpu-limit');
    const timed = async (fn: string) => {
      const t0 = performance.now();
      const res = await get(engine, fn);
      return { ms: performance.now() - t0, status: res.status, error: res.headers.get('islet-error'), retryAfter: res.headers.get('retry-after') };
    };
    // Two held (the cap), the third sent at once; others are served meanwhile.
    const refusals = [timed('hog'), timed('hog'), timed('hog')];
    const hello = await timed('hello');
    expect(hello.status).toBe(200);
    expect(hello.ms).toBeLessThan(400);
    const [a, b, c] = await Promise.all(refusals);
    for (const r of [a!, b!, c!]) expect([r.status, r.error]).toEqual([503, 'quarantined']);
    expect(a!.ms).toBeGreaterThanOrEqual(390);
    expect(b!.ms).toBeGreaterThanOrEqual(390);
    expect(c!.ms).toBeLessThan(390);
    // Retry-After counts from when the refusal is sent: 5 s of quarantine less the hold.
    expect(Number(a!.retryAfter)).toBe(5);
    // Closing the engine sends what it holds instead of keeping anyone waiting.
    const held = timed('hog');
    await sleep(50);
    await engine.close();
    const late = await held;
    expect([late.status, late.error]).toEqual([503, 'quarantined']);
    expect(late.ms).toBeLessThan(390);
  });

  it('holds a refusal no longer than the quarantine lasts', async () => {
    const engine = engineWith({ sched: { quarantine: { strikes: 1, baseMs: 300, holdMs: 10_000 } } });
    await engine.deploy('hog', { entry: fixture('cpu-hog'), limits: { cpuMs: 20 } });
    expect((await get(engine, 'hog')).headers.get('islet-error')).toBe('cpu-limit');
    const t0 = performance.now();
    const refused = await get(engine, 'hog');
    expect([refused.status, refused.headers.get('islet-error')]).toEqual([503, 'quarantined']);
    expect(performance.now() - t0).toBeLessThan(1_000);
  });

  it('counts limits hit by work after the response, which no request waits for', async () => {
    const engine = engineWith({ sched: { quarantine: { strikes: 2, windowMs: 10_000, baseMs: 5_000, maxMs: 10_000, forgiveAfterMs: 60_000, holdMs: 0 } } });
    await engine.deploy('late', { code: 'export default { fetch() { setTimeout(() => { for (;;) {} }, 1); return new Response("ok") } }', limits: { cpuMs: 20 } });
    for (let strike = 1; strike <= 2; strike++) {
      expect(await (await get(engine, 'late')).text()).toBe('ok');
      const kills = () => engine.metrics.meter('late').limitKills.cpu;
      for (let waited = 0; kills() < strike && waited < 5_000; waited += 20) await sleep(20);
      expect(kills()).toBe(strike);
    }
    const refused = await get(engine, 'late');
    expect([refused.status, refused.headers.get('islet-error')]).toEqual([503, 'quarantined']);
  });
});
