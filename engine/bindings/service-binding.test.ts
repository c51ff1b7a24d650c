// Service bindings end to end inside real sandboxes: one function's env.AUTH.fetch() reaches
// another function of the engine, on the isolate tier and in a process sandbox, with its answer,
// its errors and the caller's subrequest bounds.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { Engine } from '../index.ts';

let engine: Engine;

// The function bound: answers what it was asked, with two cookies and a status of its own.
const AUTH = `export default { async fetch(request) {
  const body = await request.text();
  const headers = new Headers({ 'content-type': 'application/json', 'x-auth': 'yes' });
  headers.append('set-cookie', 'a=1');
  headers.append('set-cookie', 'b=2');
  return new Response(JSON.stringify({ method: request.method, url: request.url, user: request.headers.get('x-user'), body }), { status: 201, headers });
} }`;

/** Deploys `body` as the inside of a fetch handler that has the service bindings `services`. */
async function call(name: string, body: string, services: Record<string, string> = { AUTH: 'auth' }, extra: Record<string, unknown> = {}): Promise<any> {
  await engine.deploy(name, { code: `export default { async fetch(request, env, ctx) { ${body} } }`, services, limits: { cpuMs: 1000 }, ...extra });
  const res = await engine.fetch(name, new Request(`http://${name}.test/`));
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

/** Runs `body` with an engine of its own, made with `options` and closed after. */
async function withEngine(options: ConstructorParameters<typeof Engine>[0], body: (engine: Engine) => Promise<void>): Promise<void> {
  const own = new Engine(options);
  try {
    await body(own);
  } finally {
    await own.close();
  }
}

/** When (ms from now) function `name` logged the line `msg`, as it does; `stop()` stops following. */
function logged(name: string, msg: string): { at: number[]; since: () => number; stop: () => void } {
  const started = performance.now();
  const at: number[] = [];
  const stop = engine.logs.follow(name, (record) => { if (record.msg === msg) at.push(performance.now() - started); });
  return { at, since: () => performance.now() - started, stop };
}

const ASK = `
  const res = await env.AUTH.fetch('https://auth.internal/check?x=1', { method: 'POST', headers: { 'x-user': 'ann' }, body: 'hi' });
  return Response.json({ status: res.status, json: await res.json(), auth: res.headers.get('x-auth'), cookies: res.headers.getSetCookie(), tag: Object.prototype.toString.call(env.AUTH) });`;
const ANSWER = {
  status: 201,
  json: { method: 'POST', url: 'https://auth.internal/check?x=1', user: 'ann', body: 'hi' },
  auth: 'yes',
  cookies: ['a=1', 'b=2'],
  tag: '[object Fetcher]',
};

beforeAll(async () => {
  engine = new Engine();
  await engine.deploy('auth', { code: AUTH });
});
afterAll(() => engine.close());

describe('service bindings', () => {
  it('env.NAME.fetch() reaches the function bound, in process, with its whole answer', async () => {
    expect(await call('api', ASK)).toEqual(ANSWER);
    expect(engine.get('api')?.services).toEqual({ AUTH: 'auth' });
  });

  it('work the same from a process sandbox', async () => {
    expect(await call('api-process', ASK, { AUTH: 'auth' }, { tier: 'process' })).toEqual(ANSWER);
  });

  it('a service-worker script reads its binding as a global', async () => {
    await engine.deploy('api-sw', {
      code: `addEventListener('fetch', (event) => event.respondWith(AUTH.fetch('https://auth/x', { headers: { 'x-user': 'sw' } }).then((r) => r.json()).then((j) => Response.json(j))));`,
      services: { AUTH: 'auth' },
    });
    const res = await engine.fetch('api-sw', new Request('http://api-sw.test/'));
    expect(await res.json()).toMatchObject({ method: 'GET', user: 'sw' });
  });

  it('the callee\'s errors are its answers; a missing function is a 404 the caller can read', async () => {
    await engine.deploy('broken', { code: 'export default { fetch() { throw new Error("nope") } }' });
    const out = await call('api-errors', `
      const missing = await env.GONE.fetch('https://gone/');
      const broken = await env.BROKEN.fetch('https://broken/');
      return Response.json({ missing: [missing.status, missing.headers.get('islet-error')], broken: [broken.status, broken.headers.get('islet-error')] });`,
    { GONE: 'no-such-fn', BROKEN: 'broken' });
    expect(out).toEqual({ missing: [404, 'no-such-function'], broken: [500, 'exception'] });
  });

  it('each call is a subrequest of the caller; WebSockets do not go through a binding', async () => {
    const out = await call('api-bounds', `
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await env.AUTH.fetch('https://auth/').then((r) => r.status, (e) => e.message));
      let ws;
      try { await env.AUTH.fetch('https://auth/', { headers: { upgrade: 'websocket' } }); } catch (e) { ws = e.message; }
      return Response.json({ results, ws });`,
    { AUTH: 'auth' }, { limits: { cpuMs: 1000, maxSubrequests: 2 } });
    expect(out.results.slice(0, 2)).toEqual([201, 201]);
    expect(out.results[2]).toMatch(/too many subrequests/);
    expect(out.ws).toMatch(/AUTH\.fetch: WebSockets through a service binding are not supported/);
  });

  it('a chain of service calls is bounded: a function bound to itself fails fast at 32 deep, and the engine serves on', async () => {
    // Each hop says how deep it is; the one whose call is refused answers with its depth.
    await engine.deploy('loop', {
      code: `export default { async fetch(request, env) {
        const n = Number(request.headers.get('x-n') ?? 0);
        try {
          const r = await env.SELF.fetch(request.url, { headers: { 'x-n': String(n + 1) } });
          return new Response(await r.text(), { status: r.status });
        } catch (e) { return new Response('refused at ' + n + ': ' + e.message, { status: 508 }); }
      } }`,
      services: { SELF: 'loop' },
      limits: { wallMs: 10_000 },
    });
    const started = performance.now();
    const res = await engine.fetch('loop', new Request('http://loop.test/'));
    expect([res.status, await res.text()]).toEqual([508, 'refused at 32: SELF.fetch: the chain of service-binding calls is already 32 deep']);
    expect(performance.now() - started).toBeLessThan(5_000);
    const again = await engine.fetch('auth', new Request('http://auth.test/'));
    expect(again.status).toBe(201);
  }, 20_000);

  it('a chain ends with the request it serves: a self-bound function fanning out stops at its root\'s wall clock', async () => {
    // Before, each callee had a wallMs of its own from when it started: a probe's fan-out of six a
    // level kept the engine busy 40 s after its root request had answered 503.
    await engine.deploy('fan', {
      code: `export default { async fetch(request, env) {
        console.log('hop');
        await Promise.all([1, 2, 3, 4, 5, 6].map(() => env.SELF.fetch(request.url).then((r) => r.arrayBuffer()).catch(() => 0)));
        return new Response('done');
      } }`,
      services: { SELF: 'fan' },
      limits: { wallMs: 800 },
    });
    const hops = logged('fan', 'hop');
    try {
      const res = await engine.fetch('fan', new Request('http://fan.test/'));
      expect(res.headers.get('islet-error')).toBe('wall-limit');
      await new Promise((r) => setTimeout(r, Math.max(0, 1_100 - hops.since())));
      const after = hops.at.length;
      expect(after).toBeGreaterThan(3);
      await new Promise((r) => setTimeout(r, 800));
      expect(hops.at.length).toBe(after);
    } finally {
      hops.stop();
    }
  }, 20_000);

  it('a chain that hops on from timers after its requests ended still ends with its root', async () => {
    // Each hop answers at once and calls the next from a timer; a held call keeps a task of the
    // chain in the sandbox. The timer's depth has no task left: before, its call got a fresh
    // wallMs, and a probe's chain ran 30 hops, 8 s past its root's wall clock.
    await engine.deploy('relay', {
      code: `export default { async fetch(request, env) {
        const u = new URL(request.url);
        const d = Number(u.searchParams.get('d') ?? 0);
        if (u.pathname === '/hold') { await scheduler.wait(450); return new Response('held'); }
        console.log('step');
        if (d >= 30) return new Response('bottom');
        env.SELF.fetch('https://s/hold').catch(() => {});
        setTimeout(() => { env.SELF.fetch('https://s/step?d=' + (d + 1)).catch(() => {}); }, 300);
        return new Response('answered ' + d);
      } }`,
      services: { SELF: 'relay' },
      limits: { wallMs: 1_000 },
    });
    const steps = logged('relay', 'step');
    try {
      expect(await (await engine.fetch('relay', new Request('http://relay.test/'))).text()).toBe('answered 0');
      await new Promise((r) => setTimeout(r, 2_500));
      expect(steps.at.length).toBeGreaterThan(1);
      expect(Math.max(...steps.at)).toBeLessThan(1_500);
    } finally {
      steps.stop();
    }
  }, 20_000);

  it('each call is charged its own request\'s chain: overlapping chains of a function bound to itself all reach 31 deep', async () => {
    // Four clients at once, each a chain of 31 hops through the same sandbox (a short wait and a
    // digest per hop so that they overlap, and the call is made after both): no hop is refused,
    // because none is charged another chain's depth.
    await engine.deploy('chains', {
      code: `export default { async fetch(request, env) {
        const n = Number(request.headers.get('x-n') ?? 0);
        await scheduler.wait(2);
        await crypto.subtle.digest('SHA-256', new Uint8Array(n));
        if (n === 31) return new Response('bottom');
        try {
          const r = await env.SELF.fetch(request.url, { headers: { 'x-n': String(n + 1) } });
          return new Response(await r.text(), { status: r.status });
        } catch (e) { return new Response('refused at ' + n + ': ' + e.message, { status: 508 }); }
      } }`,
      services: { SELF: 'chains' },
      // One sandbox holding all 128 hops at once (twice its concurrency: calls are not held to it).
      limits: { wallMs: 20_000, cpuMs: 1_000, maxReplicas: 1 },
    });
    const answers = await Promise.all(Array.from({ length: 4 }, async () => {
      const res = await engine.fetch('chains', new Request('http://chains.test/'));
      return `${res.status} ${await res.text()}`;
    }));
    expect(answers).toEqual(Array(4).fill('200 bottom'));
  }, 30_000);

  it('code V8 resumes in a task of its own stays in its chain: an Atomics.waitAsync wake-up, a template\'s top level', async () => {
    // A hop refused at 32 waits on Atomics.waitAsync, then calls on: V8 wakes it outside any call
    // from the host, which once left it the depth of the root's 1 ms interval (0) and let it go
    // 200 deep. The interval keeps calls into the isolate coming.
    await engine.deploy('waker', {
      code: `let deepest = 0, refusals = 0;
      const i32 = new Int32Array(new SharedArrayBuffer(4));
      export default { async fetch(request, env) {
        const hop = Number(request.headers.get('x-hop') ?? 0);
        deepest = Math.max(deepest, hop);
        if (hop === 0) {
          const iv = setInterval(() => {}, 1);
          await (await env.SELF.fetch(request.url, { headers: { 'x-hop': '1' } })).text();
          clearInterval(iv);
          return Response.json({ deepest, refusals });
        }
        if (hop === 32) {
          try { await env.SELF.fetch(request.url); } catch { refusals++; }
          const woken = Atomics.waitAsync(i32, 0, 0).value;
          Atomics.notify(i32, 0);
          await woken;
        }
        if (hop >= 100) return new Response('bottom');
        const r = await env.SELF.fetch(request.url, { headers: { 'x-hop': String(hop + 1) } });
        return new Response(await r.text(), { status: r.status });
      } }`,
      services: { SELF: 'waker' },
      limits: { wallMs: 8_000, maxReplicas: 1 },
    });
    expect(await (await engine.fetch('waker', new Request('http://waker.test/'))).json()).toEqual({ deepest: 32, refusals: 1 });

    // A template isolate ran a rehearsal request (depth 0) before the tenant's top level: a timer
    // set there once fired at depth 0, and took over a refused hop's next call (150 deep).
    await withEngine({}, async (fresh) => {
      await fresh.deploy('first', { code: 'export default { fetch() { return new Response("1") } }' });
      for (let i = 0; i < 100 && !((fresh.status() as { templates: { ready: number }[] }).templates[0]?.ready > 0); i++) await new Promise((r) => setTimeout(r, 50));
      expect((fresh.status() as { templates: { ready: number }[] }).templates[0]?.ready).toBeGreaterThan(0);
      await fresh.deploy('relay', {
        code: `let SELF, deepest = 0, jobs = [];
        setInterval(() => { const hop = jobs.shift(); if (hop !== undefined) SELF.fetch('http://relay.test/', { headers: { 'x-hop': String(hop) } }).catch(() => {}); }, 5);
        export default { async fetch(request, env) {
          SELF = env.SELF;
          const hop = Number(request.headers.get('x-hop') ?? 0);
          deepest = Math.max(deepest, hop);
          if (!request.headers.has('x-hop')) {
            await (await env.SELF.fetch(request.url, { headers: { 'x-hop': '1' } })).text();
            await scheduler.wait(400);
            return Response.json({ deepest });
          }
          if (hop >= 100) return new Response('bottom');
          try { return new Response(await (await env.SELF.fetch(request.url, { headers: { 'x-hop': String(hop + 1) } })).text()); }
          catch { jobs.push(hop + 1); await scheduler.wait(300); return new Response('handed on'); }
        } }`,
        services: { SELF: 'relay' },
        limits: { wallMs: 8_000, maxReplicas: 1 },
      });
      expect(await (await fresh.fetch('relay', new Request('http://relay.test/'))).json()).toEqual({ deepest: 32 });
    });
  }, 20_000);

  it('calls do not wait for places their callers hold: a function bound to itself serves more clients than its concurrency', async () => {
    // Four places in one replica, sixteen clients at once, each request one call to itself: the
    // outer requests take every place and wait on their calls, which must not queue behind them.
    await engine.deploy('reentrant', {
      code: `export default { async fetch(request, env) {
        if (new URL(request.url).pathname === '/inner') { await scheduler.wait(5); return new Response('inner'); }
        const r = await env.SELF.fetch('http://reentrant.test/inner');
        return new Response('outer ' + await r.text(), { status: r.status });
      } }`,
      services: { SELF: 'reentrant' },
      limits: { concurrency: 4, maxReplicas: 1 },
    });
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 16 }, async () => {
      const res = await engine.fetch('reentrant', new Request('http://reentrant.test/'));
      return `${res.status} ${await res.text()}`;
    }));
    expect(answers).toEqual(Array(16).fill('200 outer inner'));
    expect(performance.now() - started).toBeLessThan(5_000);
  }, 20_000);

  it('a call is lent at most its caller\'s place: fan-out waits for places like anyone, other tenants are served, a cold callee boots', async () => {
    await withEngine({ sched: { maxInFlight: 8 } }, async (small) => {
      await small.deploy('other', { code: 'export default { fetch() { return new Response("other") } }' });
      // One client request keeps 32 calls going at once for about a second.
      await small.deploy('fan', {
        code: `export default { async fetch(request, env) {
          if (new URL(request.url).pathname === '/leaf') { await scheduler.wait(50); return new Response('l'); }
          const end = Date.now() + 1_000;
          const loops = await Promise.all(Array.from({ length: 32 }, async () => {
            let n = 0;
            while (Date.now() < end) { await (await env.SELF.fetch('http://fan.test/leaf')).text(); n++; }
            return n;
          }));
          return new Response(String(loops.every((n) => n > 0)));
        } }`,
        services: { SELF: 'fan' },
        limits: { maxReplicas: 1 },
      });
      const root = small.fetch('fan', new Request('http://fan.test/'));
      let most = 0;
      const watch = setInterval(() => { most = Math.max(most, (small.status() as { scheduler: { inFlight: number } }).scheduler.inFlight); }, 5);
      await new Promise((r) => setTimeout(r, 200));
      const started = performance.now();
      const other = await small.fetch('other', new Request('http://other.test/'));
      expect([other.status, await other.text()]).toEqual([200, 'other']);
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(await (await root).text()).toBe('true');
      clearInterval(watch);
      // The cap's 8 places, and the one the root lends its calls (without a bound, all 32 calls
      // ran at once).
      expect(most).toBeGreaterThan(4);
      expect(most).toBeLessThanOrEqual(9);

      // A cold callee: the callers hold every place while their calls wait for its first replica.
      await small.deploy('cold', { code: 'export default { fetch() { return new Response("cold") } }' }, { boot: false });
      await small.deploy('warm', {
        code: `export default { async fetch(request, env) { await scheduler.wait(20); return new Response(await (await env.COLD.fetch('http://cold.test/')).text()); } }`,
        services: { COLD: 'cold' },
      });
      const calls = Array.from({ length: 8 }, () => small.fetch('warm', new Request('http://warm.test/')).then((r) => r.text()));
      expect(await Promise.all(calls)).toEqual(Array(8).fill('cold'));
    });
  }, 20_000);

  it('a caller lends places to its own calls only, until its task ends, and clients behind calls still expire', async () => {
    await withEngine({ sched: { maxInFlight: 8, maxQueueWaitMs: 1_000 } }, async (small) => {
      // One place and one replica: a call made after the answer, from a streamed body's pull or
      // from waitUntil, is lent the place its caller's task still holds.
      await small.deploy('late', {
        code: `export default { async fetch(request, env, ctx) {
          const path = new URL(request.url).pathname;
          if (path === '/inner') return new Response('inner');
          const call = () => env.SELF.fetch('http://late.test/inner').then((r) => r.text());
          if (path === '/wait') {
            let answer;
            ctx.waitUntil(scheduler.wait(20).then(call).then((t) => { answer = t; }));
            await scheduler.wait(1);
            return new Response('outer');
          }
          let sent = false;
          return new Response(new ReadableStream({ async pull(c) {
            if (sent) return c.close();
            sent = true;
            await scheduler.wait(20);
            c.enqueue(new TextEncoder().encode(await call()));
          } }));
        } }`,
        services: { SELF: 'late' },
        limits: { concurrency: 1, maxReplicas: 1 },
      });
      const started = performance.now();
      expect(await (await small.fetch('late', new Request('http://late.test/stream'))).text()).toBe('inner');
      expect(performance.now() - started).toBeLessThan(900);

      // Another tenant's requests do not lend their places to this one's fan-out: y's 7 requests
      // and x's one take the 8 places; x's calls 8 slow leaves at once, y's requests each make one
      // call a moment later, and are answered (one pool per depth for the engine gave x's leaves
      // the 8 places y's requests lent, and y's calls waited for them).
      await small.deploy('x', {
        code: `export default { async fetch(request, env) {
          if (new URL(request.url).pathname === '/leaf') { await scheduler.wait(1_500); return new Response('leaf'); }
          return new Response((await Promise.all(Array.from({ length: 8 }, () => env.SELF.fetch('http://x.test/leaf').then((r) => r.text())))).join());
        } }`,
        services: { SELF: 'x' },
        limits: { maxReplicas: 1 },
      });
      await small.deploy('y', {
        code: `export default { async fetch(request, env) {
          if (new URL(request.url).pathname === '/inner') return new Response('inner');
          await scheduler.wait(100);
          return new Response(await (await env.SELF.fetch('http://y.test/inner')).text());
        } }`,
        services: { SELF: 'y' },
        limits: { maxReplicas: 1 },
      });
      const yStarted = performance.now();
      const ys = Promise.all(Array.from({ length: 7 }, () => small.fetch('y', new Request('http://y.test/')).then((r) => r.text())));
      await new Promise((r) => setTimeout(r, 10));
      const x = small.fetch('x', new Request('http://x.test/')).then((r) => r.text());
      expect(await ys).toEqual(Array(7).fill('inner'));
      expect(performance.now() - yStarted).toBeLessThan(1_000);
      expect(await x).toBe(Array(8).fill('leaf').join());

      // Calls keep joining the queue ahead of a client's request: its wait still ends on time.
      await small.deploy('busy', {
        code: `export default { async fetch(request, env) {
          const path = new URL(request.url).pathname;
          if (path === '/leaf') { await scheduler.wait(200); return new Response('l'); }
          if (path === '/client') return new Response('client');
          const end = Date.now() + 3_000;
          await Promise.all([0, 1, 2, 3].map(async () => { while (Date.now() < end) await (await env.SELF.fetch('http://busy.test/leaf')).text(); }));
          return new Response('root');
        } }`,
        services: { SELF: 'busy' },
        limits: { concurrency: 1, maxReplicas: 1, wallMs: 10_000 },
      });
      const root = small.fetch('busy', new Request('http://busy.test/')).then((r) => r.text());
      await new Promise((r) => setTimeout(r, 100));
      const clientStarted = performance.now();
      const client = await small.fetch('busy', new Request('http://busy.test/client'));
      expect([client.status, client.headers.get('islet-error')]).toEqual([503, 'overloaded']);
      expect(performance.now() - clientStarted).toBeLessThan(2_500);
      expect(await root).toBe('root');
    });
  }, 20_000);

  it('a process sandbox, which cannot tell which request calls, lends a bounded number of places', async () => {
    // One request's 48 calls to itself at once: each call lent a place is a request more in the
    // sandbox, which would lend the next call one, until all 48 ran at once past the limits. (A
    // process sandbox's calls are charged its deepest request, and the lent ones are one deeper:
    // calls that reach the host after 32 of them started are refused as 32 deep, by design.)
    await withEngine({ sched: { maxInFlight: 8 } }, async (small) => {
      await small.deploy('fan-process', {
        code: `export default { async fetch(request, env) {
          if (new URL(request.url).pathname === '/leaf') { await scheduler.wait(300); return new Response('l'); }
          const calls = Array.from({ length: 48 }, () => env.SELF.fetch('http://fan.test/leaf').then((r) => r.text(), () => 'x'));
          return new Response((await Promise.all(calls)).join(''));
        } }`,
        services: { SELF: 'fan-process' },
        limits: { maxReplicas: 1, concurrency: 4, maxSubrequests: 100, wallMs: 10_000 },
        tier: 'process',
      });
      let most = 0;
      const watch = setInterval(() => { most = Math.max(most, (small.status() as { scheduler: { inFlight: number } }).scheduler.inFlight); }, 5);
      expect(await (await small.fetch('fan-process', new Request('http://fan.test/'))).text()).toMatch(/^[lx]{48}$/);
      clearInterval(watch);
      // Its concurrency's 4 places, and at most 32 lent (the deepest chain's worth).
      expect(most).toBeGreaterThan(4);
      expect(most).toBeLessThanOrEqual(36);
    });
  }, 20_000);

  it.each(['isolate', 'process'])('a fan-out at every hop of a function with one place finishes (%s)', async (tier) => {
    // A tree of calls, two wide and three deep, through one place: each caller lends its place to
    // one of its calls, and a call whose caller has lent all it may does not hold up the others.
    await withEngine({ sched: { maxInFlight: 8, maxQueueWaitMs: 2_000 } }, async (small) => {
      await small.deploy('tree', {
        code: `export default { async fetch(request, env) {
          const path = new URL(request.url).pathname;
          const call = (p) => env.SELF.fetch('http://tree.test' + p).then(async (r) => r.status === 200 ? await r.text() : '[' + r.status + ']');
          if (path === '/leaf') { await scheduler.wait(10); return new Response('.'); }
          const below = { '/': '/mid', '/mid': '/low', '/low': '/leaf' }[path];
          return new Response('(' + (await Promise.all([call(below), call(below)])).join('') + ')');
        } }`,
        services: { SELF: 'tree' },
        limits: { concurrency: 1, maxReplicas: 1 },
        tier: tier as 'isolate',
      }, { boot: false });
      const started = performance.now();
      expect(await (await small.fetch('tree', new Request('http://tree.test/'))).text()).toBe('(((..)(..))((..)(..)))');
      expect(performance.now() - started).toBeLessThan(1_500);
    });
  }, 20_000);

  it('an HTMLRewriter handler calls at its own request\'s depth, though the module resumes it in another\'s delivery', async () => {
    // Eight requests keep all four lol-html instances waiting on slow handlers, so the chain's
    // rewriter shares an instance and runs when another request's timer lets it.
    await engine.deploy('rewrites', {
      code: `let deepest = 0;
      export default { async fetch(request, env) {
        const path = new URL(request.url).pathname;
        if (path === '/hold') return new HTMLRewriter().on('p', { async element() { await scheduler.wait(40); } }).transform(new Response('<p>x</p>'.repeat(5)));
        const n = Number(request.headers.get('x-n') ?? 0);
        deepest = Math.max(deepest, n);
        if (path === '/state') return Response.json(deepest);
        if (n >= 45) return new Response('bottom');
        const next = () => env.SELF.fetch('http://rewrites.test/chain', { headers: { 'x-n': String(n + 1) } }).then((r) => r.text(), () => 'refused');
        if (n !== 31) return new Response(await next());
        return new HTMLRewriter().on('p', { async element(e) { e.setInnerContent(await next()); } }).transform(new Response('<p>x</p>'));
      } }`,
      services: { SELF: 'rewrites' },
      limits: { wallMs: 15_000, maxReplicas: 1, cpuMs: 2_000 },
    });
    let stop = false;
    const hold = async () => { while (!stop) await (await engine.fetch('rewrites', new Request('http://rewrites.test/hold'))).text(); };
    const holders = Array.from({ length: 8 }, hold);
    try {
      await new Promise((r) => setTimeout(r, 100));
      expect(await (await engine.fetch('rewrites', new Request('http://rewrites.test/chain'))).text()).toBe('<p>refused</p>');
    } finally {
      stop = true;
      await Promise.all(holders);
    }
    expect(await (await engine.fetch('rewrites', new Request('http://rewrites.test/state', { headers: { 'x-n': '0' } }))).json()).toBe(32);
  }, 20_000);

  it('a chain that hops on from timers is bounded at 32 too, while another request keeps the sandbox busy', async () => {
    // Each hop answers at once and makes the next call from a timer; a slow request keeps the
    // sandbox from going idle (which would abort the hops' calls) for the whole test.
    await engine.deploy('timer-chain', {
      code: `let deepest = 0, refused = '';
      export default { async fetch(request, env) {
        const path = new URL(request.url).pathname;
        if (path === '/state') return Response.json({ deepest, refused });
        if (path === '/busy') { await scheduler.wait(1_000); return new Response('done'); }
        const n = Number(request.headers.get('x-n') ?? 0);
        deepest = Math.max(deepest, n);
        setTimeout(() => env.SELF.fetch('http://timer-chain.test/hop', { headers: { 'x-n': String(n + 1) } })
          .catch((e) => { refused ||= 'at ' + n + ': ' + e.message; }), 1);
        return new Response('hop ' + n);
      } }`,
      services: { SELF: 'timer-chain' },
      // One sandbox, whose globals every request reads.
      limits: { wallMs: 10_000, maxReplicas: 1 },
    });
    const busy = engine.fetch('timer-chain', new Request('http://timer-chain.test/busy'));
    expect(await (await engine.fetch('timer-chain', new Request('http://timer-chain.test/hop'))).text()).toBe('hop 0');
    let state = { deepest: 0, refused: '' };
    for (let i = 0; i < 100 && state.refused === ''; i++) {
      await new Promise((r) => setTimeout(r, 20));
      state = await (await engine.fetch('timer-chain', new Request('http://timer-chain.test/state'))).json() as typeof state;
    }
    expect(state).toEqual({ deepest: 32, refused: 'at 32: SELF.fetch: the chain of service-binding calls is already 32 deep' });
    expect((await busy).status).toBe(200);
  }, 20_000);

  it.each(['isolate', 'process'])('a caller\'s outstanding calls and fetches are aborted once its sandbox has no request left (%s)', async (tier) => {
    // The callee waits until its request.signal aborts and counts it; the upstream server never
    // answers and counts the connections it saw closed.
    const slow = `slow-${tier}`;
    await engine.deploy(slow, { code: `let started = 0, aborted = 0;
      export default { async fetch(request) {
        if (new URL(request.url).pathname === '/state') return Response.json({ started, aborted });
        started++;
        for (let i = 0; i < 100 && !request.signal.aborted; i++) await scheduler.wait(50);
        if (request.signal.aborted) aborted++;
        return new Response('slow done');
      } }`, limits: { wallMs: 10_000 } });
    let closed = 0, seen = 0;
    const upstream = http.createServer((req) => { seen++; req.socket.on('close', () => closed++); });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const target = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`;
    try {
      const caller = `caller-${tier}`;
      await engine.deploy(caller, {
        code: `export default { async fetch(request, env) {
          if (new URL(request.url).pathname === '/float') {
            env.SLOW.fetch('https://slow/').catch(() => {});
            fetch(${JSON.stringify(target)}).catch(() => {});
            // Time for the fetch to reach the server, which never answers.
            await scheduler.wait(200);
            return new Response('answered');
          }
          const r = await env.SLOW.fetch('https://slow/');
          return new Response(await r.text());
        } }`,
        services: { SLOW: slow },
        limits: { wallMs: 500 },
        egress: { allowPrivate: true },
        tier: tier as 'isolate',
      });
      // One leaves its call and fetch unawaited and answers; one is over its wall clock waiting.
      expect(await (await engine.fetch(caller, new Request(`http://${caller}.test/float`))).text()).toBe('answered');
      const late = await engine.fetch(caller, new Request(`http://${caller}.test/wait`));
      expect([late.status, late.headers.get('islet-error')]).toEqual([503, 'wall-limit']);
      let state = { started: 0, aborted: 0 };
      for (let i = 0; i < 40 && (state.aborted < 2 || closed < 1); i++) {
        await new Promise((r) => setTimeout(r, 50));
        state = await (await engine.fetch(slow, new Request(`http://${slow}.test/state`))).json() as typeof state;
      }
      expect({ ...state, seen, closed }).toEqual({ started: 2, aborted: 2, seen: 1, closed: 1 });
    } finally {
      upstream.closeAllConnections();
      upstream.close();
    }
  }, 20_000);

  it('a caller that gives up stops the callee\'s body, and the host holds none of it', async () => {
    // The callee streams for ever; its globals say how far and whether its stream was cancelled.
    await engine.deploy('drip', { code: `let pulled = 0, cancelled = false;
      export default { fetch(r) {
        if (new URL(r.url).pathname === '/state') return Response.json({ pulled, cancelled });
        return new Response(new ReadableStream({ async pull(c) { pulled++; c.enqueue(new Uint8Array(64 * 1024)); await scheduler.wait(10); }, cancel() { cancelled = true; } }));
      } }`, limits: { wallMs: 60_000 } });
    const out = await call('api-gives-up', `
      try { await env.D.fetch('https://d/', { signal: AbortSignal.timeout(200) }); return Response.json('answered'); }
      catch (e) { return Response.json(e.name); }`, { D: 'drip' });
    expect(out).toBe('TimeoutError');
    const state = async () => (await engine.fetch('drip', new Request('http://drip.test/state'))).json() as Promise<{ pulled: number; cancelled: boolean }>;
    await new Promise((r) => setTimeout(r, 100));
    const first = await state();
    await new Promise((r) => setTimeout(r, 300));
    const later = await state();
    expect(first.cancelled).toBe(true);
    expect(later.pulled).toBe(first.pulled);
  });

  it('a callee whose body fails midway has the caller\'s TypeError say why, not "fetch failed"', async () => {
    // Two chunks, then the stream throws, or spins past the callee's CPU limit.
    await engine.deploy('breaks', { code: `export default { fetch(r) {
      const spin = new URL(r.url).pathname === '/spin';
      let sent = 0;
      return new Response(new ReadableStream({ pull(c) {
        if (sent++ >= 2) { if (!spin) throw new Error('callee stream broke'); const t = Date.now(); while (Date.now() - t < 500); }
        c.enqueue(new Uint8Array(1024));
      } }));
    } }`, limits: { cpuMs: 100 } });
    const caller = `
      const read = (path) => env.B.fetch('https://b' + path).then((r) => r.arrayBuffer()).then(() => 'read', (e) => e.name + ': ' + e.message);
      return Response.json({ thrown: await read('/throw'), spun: await read('/spin') });`;
    const expected = {
      thrown: 'TypeError: service binding "B" (function "breaks"): the response body stream failed: Error: callee stream broke',
      spun: 'TypeError: service binding "B" (function "breaks"): function "breaks" exceeded its CPU limit of 100 ms',
    };
    // Each tier hides a host error that is not an EgressError behind "fetch failed".
    expect(await call('api-breaks', caller, { B: 'breaks' })).toEqual(expected);
    expect(await call('api-breaks-process', caller, { B: 'breaks' }, { tier: 'process' })).toEqual(expected);
  });

  it('headers and methods go as they would to the network; redirects are followed to the same function', async () => {
    await engine.deploy('mirror', { code: `export default { async fetch(r) {
      const path = new URL(r.url).pathname;
      if (path === '/start') return Response.redirect('https://mirror/final', 302);
      if (path === '/final') return new Response('final');
      if (path === '/to') return new Response(null, { status: 302, headers: { location: new URL(r.url).searchParams.get('location') } });
      return Response.json({ method: r.method, headers: Object.fromEntries(r.headers), body: await r.text() });
    } }` });
    const out = await call('api-headers', `
      const echo = await (await env.M.fetch('https://mirror/echo', { method: 'patch', body: 'hello world',
        headers: { connection: 'close', 'keep-alive': '5', te: 'trailers', upgrade: 'h2c', host: 'evil.example', 'content-length': '3', 'x-kept': 'yes' } })).json();
      const get = await (await env.M.fetch('https://mirror/echo')).json();
      const postThenGet = await (await env.M.fetch('https://mirror/to?location=/echo', { method: 'POST', body: 'dropped' })).json();
      const follow = await env.M.fetch('https://mirror/start');
      const manual = await env.M.fetch('https://mirror/start', { redirect: 'manual' });
      let error; try { await env.M.fetch('https://mirror/start', { redirect: 'error' }); } catch (e) { error = e.message; }
      // Fetch makes these network errors; the function is not called at the new URL.
      const to = (location) => env.M.fetch('https://mirror/to?location=' + encodeURIComponent(location)).then((r) => [r.status, r.url], (e) => e.name + ': ' + e.message);
      const refused = { javascript: await to('javascript:alert(1)'), data: await to('data:text/plain,hi'), ftp: await to('ftp://mirror/x'), invalid: await to('http://[::1') };
      return Response.json({ echo, lengths: [get.headers['content-length'] ?? null, postThenGet.method, postThenGet.headers['content-length'] ?? null], follow: [follow.status, await follow.text(), follow.redirected, follow.url], manual: manual.status, error, refused });`,
    { M: 'mirror' });
    expect(out.echo.method).toBe('PATCH');
    expect(out.echo.body).toBe('hello world');
    expect(out.echo.headers['x-kept']).toBe('yes');
    for (const name of ['connection', 'keep-alive', 'te', 'upgrade']) expect(out.echo.headers).not.toHaveProperty(name);
    expect(out.echo.headers.host).not.toBe('evil.example');
    // Set from the body, as a client's request would carry it, not from what the caller wrote.
    expect(out.echo.headers['content-length']).toBe('11');
    // No body, no length: a GET, and a POST that a 302 made a GET.
    expect(out.lengths).toEqual([null, 'GET', null]);
    expect(out.follow).toEqual([200, 'final', true, 'https://mirror/final']);
    expect(out.manual).toBe(302);
    expect(out.error).toMatch(/redirected and redirect is "error"/);
    expect(out.refused.javascript).toMatch(/^TypeError: fetch to .* was redirected to a non-HTTP URL \(javascript:\); redirects are followed only to http: and https:$/);
    expect(out.refused.data).toMatch(/^TypeError: .*non-HTTP URL \(data:\)/);
    expect(out.refused.ftp).toMatch(/^TypeError: .*non-HTTP URL \(ftp:\)/);
    expect(out.refused.invalid).toMatch(/^TypeError: fetch to .* was redirected to a Location that is not a valid URL$/);
  });

  it('bad bindings are refused at deploy', async () => {
    const deploy = (services: unknown, env?: Record<string, unknown>) => engine.deploy('bad', { code: 'export default { fetch: () => new Response("x") }', services: services as never, env, ai: undefined });
    await expect(deploy(['auth'])).rejects.toThrow(ConfigError);
    await expect(deploy({ 'not-an-identifier': 'auth' })).rejects.toThrow(/must be a JavaScript identifier/);
    // As a config file or the admin API's JSON gives it: an own key, which would set env's prototype.
    await expect(deploy(JSON.parse('{"__proto__": "auth"}'))).rejects.toThrow(/not __proto__/);
    await expect(deploy({ AUTH: 'Not A Function' })).rejects.toThrow(/must name a function/);
    await expect(deploy({ AUTH: 'auth' }, { AUTH: 'value' })).rejects.toThrow(/also an env variable/);
    await expect(engine.deploy('bad', { code: 'export default {}', services: { AI: 'auth' }, ai: {} })).rejects.toThrow(/also an env variable or the AI binding/);
  });
});
