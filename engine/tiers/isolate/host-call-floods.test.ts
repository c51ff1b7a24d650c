// Most of a tenant's calls to the host (console, the Cache API, fetch, its answers) are not waited
// for: isolated-vm copies their arguments and queues them for the host's event loop, which can
// refuse them only once it has the copies. So their sizes and numbers are bounded in the isolate,
// before the copy, with nothing a tenant can patch. A probe piled gigabytes up on the host through
// each of these and ended the host process.
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine.ts';

let logBytes = 0;
const logger = pino({ level: 'info' }, new Writable({
  write(chunk: Buffer, _encoding, done) {
    logBytes += chunk.length;
    done();
  },
}));
let engine: Engine;

beforeAll(() => {
  engine = new Engine({ logger, sched: { quarantine: false }, accel: { workers: 1 } });
});
afterAll(async () => {
  await engine.close();
});

/** Runs `code`'s fetch once; its answer, and how much the host's heap and ArrayBuffers grew at most meanwhile. */
async function flood(name: string, code: string, cpuMs = 50, extra: Record<string, unknown> = {}): Promise<{ status: number; text: string; grewMb: number }> {
  await engine.deploy(name, { code, limits: { cpuMs, memoryMb: 64 }, egress: { allowPrivate: true }, ...extra });
  const held = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers + m.external; };
  const before = held();
  let most = 0;
  const watch = setInterval(() => (most = Math.max(most, held() - before)), 5);
  try {
    const res = await engine.fetch(name, new Request(`http://${name}.test/`));
    // A body that fails midway (a stream's error) is part of what is looked at, not the test's end.
    const text = await res.text().catch((err: Error) => `failed: ${err.message.slice(0, 200)}`);
    return { status: res.status, text, grewMb: Math.max(most, held() - before) / 2 ** 20 };
  } finally {
    clearInterval(watch);
  }
}

describe('calls to the host that are not waited for', () => {
  it('Cache API: a 1 MB cache name is refused before it is copied, and pending calls are bounded', async () => {
    const got = await flood('cache-flood', `const name = 'n'.repeat(1024 * 1024);
      export default { async fetch() {
        const c = await caches.open(name);
        const outcomes = [];
        for (let i = 0; i < 1000; i++) outcomes.push(c.match('http://x/').then(() => 'ok', (e) => e.message));
        const small = await caches.open('small');
        for (let i = 0; i < 100; i++) outcomes.push(small.match('http://x/' + i).then(() => 'ok', (e) => e.message));
        const seen = [...new Set(await Promise.all(outcomes))].sort();
        return Response.json(seen);
      } }`);
    expect(got.status).toBe(200);
    expect(JSON.parse(got.text)).toEqual(['cache names are at most 1024 characters', 'more than 32 Cache API calls are already pending', 'ok']);
    // Before: 1 GB of host heap, the event loop held 0.9 s, the request charged 12 times its CPU limit.
    expect(got.grewMb).toBeLessThan(200);
  });

  it('fetch: a subrequest whose URL and headers pass 128 KB is refused before it is copied', async () => {
    const got = await flood('fetch-flood', `export default { async fetch() {
      const big = 'x'.repeat(1024 * 1024);
      const outcomes = [];
      for (let i = 0; i < 20; i++) outcomes.push(fetch('http://127.0.0.1:9/', { headers: { x: big } }).then(() => 'ok', (e) => e.message));
      return Response.json([...new Set(await Promise.all(outcomes))]);
    } }`);
    expect(JSON.parse(got.text)).toEqual([expect.stringMatching(/^fetch: its URL and headers total \d+ characters, more than 131072$/)]);
    expect(got.grewMb).toBeLessThan(200);
  });

  it('console: the line limit and the 16 KB cut hold when the tenant replaces Math.min and String.prototype.slice', async () => {
    const before = logBytes;
    // CPU enough for the tenant's own work (cutting its lines costs it a copy of each): the host's
    // side is what this looks at.
    const got = await flood('console-flood', `export default { fetch() {
      Math.min = () => 1e9;
      String.prototype.slice = function () { return String(this); };
      const line = 'y'.repeat(1024 * 1024);
      for (let i = 0; i < 1000; i++) console.log(line);
      return new Response('logged');
    } }`, 2_000);
    expect([got.status, got.text]).toEqual([200, 'logged']);
    // Before: all 1,000 lines of 1 MB crossed, 2 GB of host heap (four such requests ended the host).
    expect(got.grewMb).toBeLessThan(200);
    await new Promise((r) => setTimeout(r, 200));
    // 200 lines (the burst) of 16 KB at most, and their JSON.
    expect(logBytes - before).toBeLessThan(200 * 18 * 1024 + 256 * 1024);
  });

  it('the other ways a second probe found: fake Requests and Responses, WebSocket upgrades, AI model names, crypto names', async () => {
    const got = await flood('other-floods', `export default { async fetch(request, env) {
      const big = 'x'.repeat(16 * 1024 * 1024);
      const outcome = (p) => p.then(() => 'ok', (e) => e.name + ': ' + e.message.slice(0, 80));
      // A "Response" whose statusText is many references to one big string; a Request of the tenant's making.
      const fake = { status: 200, statusText: Array(100).fill(big), headers: new Headers(), body: null, bodyUsed: false, arrayBuffer: async () => new ArrayBuffer(0) };
      const forged = Object.create(Request.prototype, { url: { value: 'http://x/' + big }, method: { value: 'GET' }, headers: { value: new Headers() } });
      return Response.json({
        put: await outcome(caches.default.put('http://x/', fake)),
        match: await outcome(caches.default.match(forged)),
        header: await outcome(caches.default.match(new Request('http://x/', { headers: { x: big } }))),
        upgrade: await outcome(fetch('http://127.0.0.1:9/', { headers: { upgrade: 'websocket', x: big } })),
        ai: await outcome(env.AI.run(big, { text: 'a' })),
        crypto: await outcome(crypto.subtle.generateKey({ name: big }, true, ['sign'])),
      });
    } }`, 1_000, { ai: {} });
    // (Its CPU is not what is tested: one quiet full run saw it pass 200 ms once, where it takes
    // ~50, while the accelerator pool it starts loaded onnxruntime beside it.)
    expect(JSON.parse(got.text)).toEqual({
      put: expect.stringMatching(/^TypeError: /),
      match: expect.stringMatching(/^TypeError: /),
      header: expect.stringMatching(/^TypeError: Cache: the request's URL, status text and headers total/),
      upgrade: expect.stringMatching(/^TypeError: fetch: its URL and headers total/),
      ai: expect.stringMatching(/model name is at most 256 characters/),
      crypto: expect.stringMatching(/^NotSupportedError: /),
    });
    expect(got.grewMb).toBeLessThan(200);
  });

  it('and a third: extra properties on arrays, getters that answer twice, replaced String, JSON, Number.isInteger', async () => {
    const got = await flood('third-floods', `export default { async fetch(request, env) {
      const big = 'x'.repeat(16 * 1024 * 1024);
      const outcome = (p) => p.then(() => 'ok', (e) => e.name);
      const text = ['hello'];
      text.pad = Array(4).fill(big);
      const ai = [];
      for (let i = 0; i < 4; i++) ai.push(outcome(env.AI.run('@islet/embed-text', { text })));
      Number.isInteger = () => true;
      let reads = 0;
      const twoFaced = { get status() { return reads++ ? Array(4).fill(big) : 200; }, statusText: '', headers: new Headers(), body: null, bodyUsed: false, arrayBuffer: async () => new ArrayBuffer(0) };
      const put = outcome(caches.default.put('http://x/', twoFaced));
      const realString = String;
      String = (v) => v;
      const crypto1 = outcome(crypto.subtle.generateKey({ name: Array(4).fill(big) }, true, ['sign']));
      String = realString;
      const { stringify, parse } = JSON;
      JSON.stringify = () => '{}';
      JSON.parse = () => ({ kty: 'oct', k: Array(4).fill(big) });
      const jwk = outcome(crypto.subtle.importKey('jwk', { kty: 'oct', k: 'AA' }, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']));
      Object.defineProperty(Request.prototype, 'redirect', { get: () => Array(4).fill(big), configurable: true });
      const redirect = outcome(fetch('http://127.0.0.1:9/'));
      const results = { ai: await Promise.all(ai), put: await put, crypto: await crypto1, jwk: await jwk, redirect: await redirect };
      JSON.stringify = stringify;
      JSON.parse = parse;
      return Response.json(results);
    } }`, 500, { ai: {} });
    expect(got.status).toBe(200);
    // Whatever each call answers (the embedding runs on its one string; the put, its status read
    // once, keeps a 200), the host took no 16 MB copies.
    expect(JSON.parse(got.text)).toMatchObject({ put: 'ok', crypto: 'NotSupportedError', redirect: 'TypeError' });
    expect(got.grewMb).toBeLessThan(200);
  });

  it('and a fourth: a replaced Array iterator, Uint8Array slice, Number or Request.arrayBuffer', async () => {
    const got = await flood('fourth-floods', `export default { async fetch() {
      const big = 'x'.repeat(16 * 1024 * 1024);
      const t = Array(4).fill(big);
      const outcome = (p) => p.then(() => 'ok', (e) => e.name);
      const key = await crypto.subtle.importKey('raw', new Uint8Array(32), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      const iterator = Array.prototype[Symbol.iterator];
      Array.prototype[Symbol.iterator] = function* () { for (let i = 0; i < 4; i++) yield big; };
      const signs = [];
      for (let i = 0; i < 8; i++) signs.push(outcome(crypto.subtle.sign('HMAC', key, new Uint8Array(4))));
      Array.prototype[Symbol.iterator] = iterator;
      const slice = Uint8Array.prototype.slice;
      Uint8Array.prototype.slice = function () { return { buffer: t }; };
      for (let i = 0; i < 8; i++) signs.push(outcome(crypto.subtle.sign('HMAC', key, new Uint8Array(4))));
      Uint8Array.prototype.slice = slice;
      const realNumber = Number;
      Number = (v) => v;
      const lengths = [];
      for (let i = 0; i < 8; i++) lengths.push(outcome(crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256', length: t }, true, ['sign'])));
      Number = realNumber;
      Request.prototype.arrayBuffer = async function () { return t; };
      const posts = [];
      for (let i = 0; i < 8; i++) posts.push(outcome(fetch('http://127.0.0.1:9/', { method: 'POST', body: 'a' })));
      return Response.json({ signs: await Promise.all(signs), lengths: await Promise.all(lengths), posts: await Promise.all(posts) });
    } }`, 500);
    expect(got.status).toBe(200);
    const answers = JSON.parse(got.text);
    expect(answers.signs).toEqual(Array(16).fill('ok'));
    expect(answers.posts).toEqual(Array(8).fill('TypeError'));
    expect(got.grewMb).toBeLessThan(200);
  });

  it('and a fifth: a replaced Math.min in timers, a replaced String in a thrown error answered late', async () => {
    const timers = await flood('timer-flood', `export default { fetch() {
      const big = 'x'.repeat(4 * 1024 * 1024);
      const delay = { pad: Array(8).fill(big), [Symbol.toPrimitive]() { return 1; } };
      Math.min = () => delay;
      for (let i = 0; i < 40; i++) setTimeout(() => {}, 1);
      return new Response('armed');
    } }`, 500);
    expect([timers.status, timers.text]).toEqual([200, 'armed']);
    expect(timers.grewMb).toBeLessThan(200);
    const thrown = await flood('thrown-flood', `export default { async fetch() {
      const big = 'x'.repeat(4 * 1024 * 1024);
      const name = Object.assign(Object.create({ slice() { return this; } }), { pad: Array(150).fill(big), toString() { return 'Named'; } });
      await new Promise((r) => setTimeout(r, 20));
      globalThis.String = (v) => v;
      const err = new Error('e');
      err.name = name;
      throw err;
    } }`, 500);
    expect(thrown.status).toBe(500);
    expect(thrown.grewMb).toBeLessThan(200);
  });

  it('and a sixth: error texts of failed streams, cron runs and thrown objects, and TextDecoder labels, are cut first', async () => {
    // A 64 MB string costs the isolate one allocation; each text below was copied out whole.
    const streamed = await flood('stream-error-flood', `const big = 'x'.repeat(64 * 1024 * 1024);
      export default { fetch() {
        let n = 0;
        return new Response(new ReadableStream({ pull(c) { if (n++ === 0) return c.enqueue(new Uint8Array(1)); throw new Error(big); } }));
      } }`, 500);
    expect(streamed.grewMb).toBeLessThan(32);
    const replaced = await flood('stream-string-flood', `const big = 'x'.repeat(8 * 1024 * 1024);
      export default { fetch() {
        let n = 0;
        return new Response(new ReadableStream({ pull(c) {
          if (n++ === 0) return c.enqueue(new Uint8Array(1));
          const pad = Array(16).fill(big);
          globalThis.String = () => pad;
          throw 0;
        } }));
      } }`, 500);
    expect(replaced.grewMb).toBeLessThan(64);
    // A Symbol.hasInstance that throws the second time: read outside describeThrown's guard, its
    // throw was copied out whole, and the stream was left open until the wall-clock limit.
    const started = performance.now();
    const hasInstance = await flood('stream-instance-flood', `const big = 'x'.repeat(64 * 1024 * 1024);
      export default { fetch() {
        let n = 0, m = 0;
        return new Response(new ReadableStream({ pull(c) {
          if (m++ === 0) return c.enqueue(new Uint8Array(1));
          Object.defineProperty(Error, Symbol.hasInstance, { value() { if (++n > 1) throw big; return true; } });
          throw new Error('broke');
        } }));
      } }`, 500);
    expect(hasInstance.text).toMatch(/^failed: /);
    expect(hasInstance.grewMb).toBeLessThan(32);
    expect(performance.now() - started).toBeLessThan(5_000);
    const object = await flood('thrown-object-flood', `const big = 'x'.repeat(64 * 1024 * 1024);
      export default { fetch() { Object.prototype.toString = () => big; throw {}; } }`, 500);
    expect(object.status).toBe(500);
    expect(object.grewMb).toBeLessThan(32);
    const label = await flood('label-flood', `const big = 'x'.repeat(64 * 1024 * 1024);
      export default { fetch() {
        String.prototype.replace = function () { return 'no-such-label'; };
        try { new TextDecoder(big); } catch (e) { return new Response(e.name + ' ' + e.message.length); }
        return new Response('decoded');
      } }`, 500);
    // The label is refused in the isolate, and the error quotes only its start.
    expect(label.text).toMatch(/^RangeError \d{2,3}$/);
    expect(label.grewMb).toBeLessThan(32);

    await engine.deploy('cron-error-flood', { code: `const big = 'x'.repeat(64 * 1024 * 1024);
      export default { fetch: () => new Response('ok'), scheduled() { throw new Error(big); } }`, limits: { cpuMs: 500, memoryMb: 64 } });
    const held = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers + m.external; };
    const before = held();
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, held() - before)), 5);
    const failed = await engine.scheduled('cron-error-flood').then(() => undefined, (err: Error) => err);
    clearInterval(watch);
    expect(failed?.message.length).toBeLessThan(17 * 1024);
    expect(Math.max(most, held() - before) / 2 ** 20).toBeLessThan(32);

    // What isolated-vm copies whole (a floating rejection, a load's exception) is cut before the host
    // maps, splits or passes it on: a cron run's rejected a 512 MB engine.scheduled() message, and a
    // load's 64 MB of stack-like lines held the event loop 4.9 s.
    await engine.deploy('cron-floating-flood', { code: `const big = 'x'.repeat(16 * 1024 * 1024);
      export default { fetch: () => new Response('ok'), async scheduled() { Promise.reject(big); } }`, limits: { cpuMs: 500, memoryMb: 64 } });
    const floating = await engine.scheduled('cron-floating-flood').then(() => undefined, (err: Error) => err);
    expect(floating === undefined || floating.message.length < 17 * 1024).toBe(true);
    const loadStarted = performance.now();
    const load = await engine.deploy('load-lines-flood', { code: `throw new Error('at x\\n'.repeat(3 * 1024 * 1024)); export default {}`, limits: { memoryMb: 64 } })
      .then(() => undefined, (err: Error & { diagnostics?: string[] }) => err);
    // 16 KB of message, and its diagnostics from 16 KB of stack.
    expect(load?.message.length).toBeLessThan(40 * 1024);
    expect(performance.now() - loadStarted).toBeLessThan(3_000);
  });

  it('and an eighth: replaced Map methods, slice and buffer getters reach no host call', async () => {
    // A replaced Map.prototype.get handed the response stream's puller the tenant's own reader,
    // whose "chunks" (64 MB strings) were copied to the host as they were.
    const chunks = await flood('map-chunk-flood', `const big = 'x'.repeat(64 * 1024 * 1024);
      export default { fetch() {
        const get = Map.prototype.get;
        Map.prototype.get = function (k) {
          const v = get.call(this, k);
          return v && typeof v.next === 'function' && typeof k === 'number' ? { next: () => Promise.resolve(big), cancel() {} } : v;
        };
        return new Response(new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(10)); } }));
      } }`, 500);
    expect(chunks.text).toMatch(/^failed: /);
    expect(chunks.grewMb).toBeLessThan(32);
    // The answers the host takes back after a floating rejection were kept in a Map: a replaced
    // get answered with eight 64 MB strings (528 MB on the host), and the request hung.
    const answers = await flood('answers-flood', `const big = 'x'.repeat(64 * 1024 * 1024);
      export default { fetch() {
        const get = Map.prototype.get;
        Map.prototype.get = function (k) { const v = get.call(this, k); return Array.isArray(v) ? Array(8).fill(big) : v; };
        Promise.reject(1);
        return new Response('ok');
      } }`, 500);
    expect([answers.status, answers.text]).toEqual([200, 'ok']);
    expect(answers.grewMb).toBeLessThan(32);
    // Pieces for the host's legacy decoders and digests were cut with the tenant's slice and
    // read through its buffer getter: either could hand the call 16 references to an 8 MB string.
    const pieces = await flood('slice-flood', `const big = 'x'.repeat(8 * 1024 * 1024);
      export default { async fetch() {
        const fake = Object.assign(new ArrayBuffer(0), { pad: Array(16).fill(big) });
        const bytes = new Uint8Array(300_000).fill(65);
        const honest = await crypto.subtle.digest('SHA-256', bytes);
        Uint8Array.prototype.slice = function () { return { buffer: fake, byteLength: 0 }; };
        Uint8Array.prototype.subarray = function () { return new Uint8Array(0); };
        const digest = await crypto.subtle.digest('SHA-256', bytes);
        const text = new TextDecoder('windows-1252').decode(bytes);
        const same = new Uint8Array(honest).every((b, i) => b === new Uint8Array(digest)[i]);
        return Response.json({ same, text: text.length });
      } }`, 2_000);
    expect(JSON.parse(pieces.text)).toEqual({ same: true, text: 300_000 });
    expect(pieces.grewMb).toBeLessThan(32);
  });

  it('and a ninth: Array.prototype setters, unshift, then and iterators, Object.prototype setters, a replaced Number, hasOwn or buffer getter', async () => {
    // An audit of every host call for built-ins the runtime still took from the tenant's realm. Each
    // of these had the host copy 0.2–2 GB from one request (the arrays of 64 MB strings).
    const prelude = "const big = 'x'.repeat(64 * 1024 * 1024); const pad = Array(8).fill(big);";
    const cases: Record<string, string> = {
      indexSetter: `export default { fetch() {
        Object.defineProperty(Array.prototype, '0', { configurable: true, get() {},
          set(v) { Object.defineProperty(this, '0', { value: v, writable: true, enumerable: true, configurable: true }); if (this !== pad) this.pad = pad; } });
        return new Response('ok');
      } }`,
      unshift: `export default { fetch() {
        const unshift = Array.prototype.unshift;
        Array.prototype.unshift = function (...a) { this.pad = pad; return unshift.apply(this, a); };
        return new Response('ok', { statusText: 'Fine' });
      } }`,
      then: `export default { fetch() {
        let armed = true;
        Object.defineProperty(Array.prototype, 'then', { configurable: true, get() {
          if (!armed || this === pad) return undefined;
          return (resolve) => { armed = false; resolve(pad); };
        } });
        return new Response('ok');
      } }`,
      iterator: `export default { fetch() {
        const orig = Array.prototype[Symbol.iterator];
        Array.prototype[Symbol.iterator] = function () {
          if (this.length === 3 && this[1] === 'boom') { let n = 0; return { next: () => (n++ < 8 ? { value: big, done: false } : { done: true }) }; }
          return orig.call(this);
        };
        throw new Error('boom');
      } }`,
      clearTimeout: `export default { fetch() {
        const N = Number, get = Map.prototype.get;
        globalThis.Number = (v) => (v === 'boom' ? pad : N(v));
        Map.prototype.get = function (k) { return k === pad ? { deadline: 0, seq: 0 } : get.call(this, k); };
        for (let i = 0; i < 4; i++) clearTimeout('boom');
        globalThis.Number = N; Map.prototype.get = get;
        return new Response('ok');
      } }`,
      digestName: `export default { async fetch() {
        Object.prototype.zz = pad;
        const up = String.prototype.toUpperCase, has = Object.hasOwn;
        String.prototype.toUpperCase = function () { return this == 'evil' ? 'zz' : up.call(this); };
        Object.hasOwn = (o, k) => k === 'zz' || has(o, k);
        const out = await crypto.subtle.digest('evil', new Uint8Array(4)).then(() => 'ok', (e) => e.name);
        delete Object.prototype.zz;
        return new Response(out);
      } }`,
      algorithmSetter: `export default { async fetch() {
        const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 128 }, false, ['encrypt']);
        Object.defineProperty(Object.prototype, 'iv', { configurable: true, get() {},
          set(v) { Object.defineProperty(this, 'iv', { value: v, enumerable: true, writable: true, configurable: true }); this.pad = pad; } });
        const r = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, key, new Uint8Array(4)).then((b) => 'ok ' + b.byteLength, (e) => e.name);
        return new Response(r);
      } }`,
      cacheBuffer: `export default { async fetch() {
        const TA = Object.getPrototypeOf(Uint8Array.prototype);
        const d = Object.getOwnPropertyDescriptor(TA, 'buffer');
        Object.defineProperty(TA, 'buffer', { configurable: true, get() { return String(new Error().stack).includes('readAtMost') ? pad : d.get.call(this); } });
        const r = await caches.default.put('http://x/', new Response('a')).then(() => 'ok', (e) => e.message);
        Object.defineProperty(TA, 'buffer', d);
        return new Response(r);
      } }`,
    };
    const grew: Record<string, number> = {};
    for (const [name, code] of Object.entries(cases)) grew[name] = Math.round((await flood(`audit-${name.toLowerCase()}`, `${prelude}\n${code}`, 500)).grewMb);
    for (const name of Object.keys(cases)) expect.soft(grew[name], name).toBeLessThan(64);
  });

  it('a big string body is sent as bytes made in the isolate, under its memory limit', async () => {
    // Past 1 M characters: UTF-8 encoded in the isolate, so intact, and charged to the tenant.
    const fine = await flood('string-body-fine', `export default { fetch: () => new Response('é'.repeat(1_500_000) + '✓') }`, 2_000);
    expect([fine.status, fine.text.length, fine.text.endsWith('é✓')]).toEqual([200, 1_500_001, true]);
    // Before, a 96 M-character string crossed as a string, beside the isolate's memory limit, for
    // the host to hold and encode: now its bytes are past the limit, and the tenant's to pay.
    const big = await flood('string-body-big', `export default { fetch: () => new Response('x'.repeat(96 * 1024 * 1024)) }`, 2_000);
    expect(big.status).toBeGreaterThanOrEqual(500);
    expect(big.grewMb).toBeLessThan(64);
  });

  it("subrequest bodies on their way at once are bounded by half the function's memory limit", async () => {
    // A server that takes connections and never reads: each body waits on the host.
    const sockets: Socket[] = [];
    const server = createServer((socket) => sockets.push(socket.pause()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // Twelve 8 MB POSTs from the tenant, 1 ms apart; `outcomes` their promises, `waiting` a marker.
    const postTwelve = (port: number) => `const body = new Uint8Array(8 * 1024 * 1024);
        const outcomes = [];
        for (let i = 0; i < 12; i++) {
          outcomes.push(fetch('http://127.0.0.1:${port}/', { method: 'POST', body }).then(() => 'answered', (e) => e.message.split(' (')[0]));
          await new Promise((r) => setTimeout(r, 1));
        }
        const waiting = {};`;
    try {
      const { port } = server.address() as AddressInfo;
      const got = await flood('fetch-bodies-flood', `export default { async fetch() {
        ${postTwelve(port)}
        return Response.json(await Promise.all(outcomes.map((o) => Promise.race([o, waiting]).then((v) => v === waiting ? 'waiting' : v))));
      } }`, 2_000);
      // Four fit half the 64 MB limit; the next ones are refused before they are copied out (before,
      // the isolate's own limit refused them only once seven were on the host).
      expect(JSON.parse(got.text)).toEqual([...Array(4).fill('waiting'), ...Array(8).fill("fetch: the subrequest bodies, crypto.subtle and AI inputs already on their way to the host and this call's")]);
      // The count is kept where no Map method reaches it: replaced ones once made it negative.
      const mapped = await flood('fetch-bodies-map-flood', `export default { async fetch() {
        const get = Map.prototype.get;
        Map.prototype.get = function (k) { const v = get.call(this, k); return v === 1 ? 1e15 : v; };
        // A 1-byte subrequest the host settles (aborted): the count would drop by 1e15.
        const c = new AbortController();
        const first = fetch('http://127.0.0.1:${port}/', { method: 'POST', body: 'x', signal: c.signal });
        for (let j = 0; j < 8; j++) await null;
        c.abort();
        await first.catch(() => {});
        await new Promise((r) => setTimeout(r, 50));
        Map.prototype.get = get;
        ${postTwelve(port)}
        return Response.json((await Promise.all(outcomes.map((o) => Promise.race([o, waiting])))).filter((v) => v !== waiting));
      } }`, 2_000);
      expect(JSON.parse(mapped.text)).toEqual(Array(8).fill("fetch: the subrequest bodies, crypto.subtle and AI inputs already on their way to the host and this call's"));
      // Aborted at once, each is still the host's to hold until it has let it go: counted until
      // then (released when the tenant's promise settled, a loop of aborts passed the bound).
      const aborting = await flood('fetch-abort-flood', `export default { async fetch() {
        const body = new Uint8Array(8 * 1024 * 1024);
        const outcomes = [];
        for (let i = 0; i < 12; i++) {
          const c = new AbortController();
          const p = fetch('http://127.0.0.1:${port}/', { method: 'POST', body, signal: c.signal });
          // Long enough for the body to have been read and handed to the host.
          for (let j = 0; j < 8; j++) await null;
          c.abort();
          outcomes.push(await p.then(() => 'answered', (e) => e.name === 'AbortError' ? 'aborted' : e.message.split(' (')[0]));
        }
        return Response.json(outcomes);
      } }`, 2_000);
      expect(JSON.parse(aborting.text)).toEqual([...Array(4).fill('aborted'), ...Array(8).fill("fetch: the subrequest bodies, crypto.subtle and AI inputs already on their way to the host and this call's")]);
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });

  it('crypto.subtle inputs on their way count against the same bound as subrequest bodies', async () => {
    // Before, only their count was bounded (32): 32 HMACs of 20 MB put 200-280 MB on the host's
    // heap and held its loop 85-156 ms deserializing them.
    const got = await flood('crypto-bytes-flood', `export default { async fetch() {
      const key = await crypto.subtle.importKey('raw', new Uint8Array(32), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      const data = new Uint8Array(12 * 1024 * 1024);
      const outcomes = [];
      for (let i = 0; i < 4; i++) outcomes.push(crypto.subtle.sign('HMAC', key, data).then(() => 'signed', (e) => e.name + ': ' + e.message.split(' (')[0]));
      const settled = await Promise.all(outcomes);
      // Once they are done, the bytes are free again.
      settled.push(await crypto.subtle.sign('HMAC', key, data).then(() => 'signed'));
      return Response.json(settled);
    } }`, 2_000);
    const refused = "OperationError: crypto.subtle.sign: the subrequest bodies, crypto.subtle and AI inputs already on their way to the host and this call's";
    // Two fit half the 64 MB limit.
    expect(JSON.parse(got.text)).toEqual(['signed', 'signed', refused, refused, 'signed']);
  });

  it('a replaced Math.max reaches no host call: an interval\'s repeat, getRandomValues', async () => {
    // Before: each interval sent the tenant's 32 MB object as its delay on every firing (1.3 GB on
    // the host within 1.5 s), and getRandomValues sent one per call and handed out zeros.
    const intervals = await flood('interval-max-flood', `export default { fetch() {
      const big = 'x'.repeat(4 * 1024 * 1024);
      const delay = { pad: Array(8).fill(big), [Symbol.toPrimitive]() { return 1; } };
      const max = Math.max;
      Math.max = () => delay;
      const ids = [];
      for (let i = 0; i < 40; i++) ids.push(setInterval(() => {}, 1));
      Math.max = max;
      return new Promise((resolve) => setTimeout(() => { ids.forEach(clearInterval); resolve(new Response('ran')); }, 1500));
    } }`, 2_000);
    expect([intervals.status, intervals.text]).toEqual([200, 'ran']);
    expect(intervals.grewMb).toBeLessThan(64);
    const random = await flood('random-max-flood', `export default { fetch() {
      const n = { pad: Array(8).fill('x'.repeat(4 * 1024 * 1024)) };
      const max = Math.max;
      Math.max = () => n;
      // Past the pool's block, so each call asks the host.
      const a = new Uint8Array(65536);
      try { for (let i = 0; i < 40; i++) crypto.getRandomValues(a); } finally { Math.max = max; }
      return new Response(String(a.some((b) => b !== 0)));
    } }`, 2_000);
    expect([random.status, random.text]).toEqual([200, 'true']);
    expect(random.grewMb).toBeLessThan(64);
  });

  it('a call the host was never given is not left pending: a detached body, a nested hash', async () => {
    // isolated-vm cannot copy a detached buffer: each such fetch() stayed counted as pending, and
    // after 256 every later fetch() of the isolate was refused, the patch long undone.
    await engine.deploy('detached-pending', { limits: { cpuMs: 2_000 }, egress: { allowPrivate: true }, code: `export default { async fetch(request) {
      const out = [];
      if (new URL(request.url).pathname === '/patch') {
        const original = Request.prototype.arrayBuffer;
        Request.prototype.arrayBuffer = async function () { const b = new ArrayBuffer(8); b.transfer(); return b; };
        for (let i = 0; i < 300; i++) out.push(await fetch('http://127.0.0.1:9/', { method: 'POST', body: 'x' }).then(() => 'ok', (e) => e.name));
        Request.prototype.arrayBuffer = original;
      }
      out.push(await fetch('http://127.0.0.1:9/').then(() => 'ok', (e) => e.message.includes('already pending') ? 'pending' : 'answered'));
      return Response.json([...new Set(out)]);
    } }` });
    const call = async (path: string) => (await engine.fetch('detached-pending', new Request(`http://d.test${path}`))).json();
    expect(await call('/patch')).toEqual(['TypeError', 'answered']);
    expect(await call('/')).toEqual(['answered']);
    // A hash is a name: bytes hung on a hash nested in hashes were never counted (three levels
    // down), and went out past the bound.
    const nested = await flood('nested-hash', `export default { async fetch() {
      const key = await crypto.subtle.importKey('raw', new Uint8Array(16), 'PBKDF2', false, ['deriveBits']);
      const big = new Uint8Array(6 * 1024 * 1024);
      const calls = [];
      for (let i = 0; i < 30; i++) calls.push(crypto.subtle.deriveBits({ name: 'PBKDF2', salt: new Uint8Array(8), iterations: 1, hash: { name: 'SHA-256', hash: { name: 'SHA-256', iv: big } } }, key, 256).then(() => 'ok', (e) => e.name));
      return Response.json([...new Set(await Promise.all(calls))]);
    } }`, 2_000);
    expect(JSON.parse(nested.text)).toEqual(['ok']);
    expect(nested.grewMb).toBeLessThan(32);
  });

  it('a response\'s headers past 128 KB are a TypeError in the tenant, not 20 MB for the host to take', async () => {
    const got = await flood('header-flood', `const v = 'y'.repeat(20 * 1024 * 1024);
      export default { fetch() { return new Response('ok', { headers: { 'x-big': v } }); } }`);
    expect(got.status).toBe(500);
    const fine = await flood('header-fine', `export default { fetch() { return new Response('ok', { headers: { 'x-big': 'y'.repeat(100 * 1024) } }); } }`);
    expect([fine.status, fine.text]).toEqual([200, 'ok']);
  });
});
