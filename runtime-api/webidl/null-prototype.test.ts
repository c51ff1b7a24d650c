// A tenant that pollutes Object.prototype (itself, or through a dependency deep-merging JSON with a
// "__proto__" key) shares it with the runtime: the runtime's own descriptors and esbuild's module
// helpers read what it added, and the built-ins threw ("Getter must be a function: 1") or answered
// 500 for every request. Each tenant here pollutes at its top level, before its first request,
// then uses the built-ins, and must see what an unpolluted tenant sees (workerd is unaffected).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Engine } from '../../engine/index.ts';

const POLLUTIONS: Record<string, string> = {
  clean: '',
  get: 'Object.prototype.get = 1;',
  set: 'Object.prototype.set = 1;',
  getFunction: 'Object.prototype.get = function () { return 42; };',
  value: "Object.defineProperty(Object.prototype, 'value', { value: 5, writable: true, configurable: true });",
  writable: 'Object.prototype.writable = true;',
  enumerable: 'Object.prototype.enumerable = true;',
  configurable: 'Object.prototype.configurable = true;',
  enumerableKey: 'Object.prototype.x = 1;',
  merged: `const merge = (a, b) => { for (const k in b) { if (b[k] && typeof b[k] === 'object') merge(a[k] ??= {}, b[k]); else a[k] = b[k]; } return a; };
    merge({}, JSON.parse('{"__proto__": {"get": 1, "polluted": "yes"}}'));`,
};

const uses = (origin: string) => `
const tries = {
  url: (req) => { const u = new URL(req.url); return u.pathname + u.searchParams.get('q') + new URL('../a?b=1', 'http://x.test/p/q/').href; },
  urlSearchParams: () => { const p = new URLSearchParams({ a: '1' }); p.append('b', '2'); return p + [...p.keys()].join(); },
  headers: () => { const h = new Headers({ a: '1' }); h.append('b', '2'); return [...h].join(';'); },
  request: async () => { const r = new Request('http://x.test/', { method: 'POST', body: 'hi' }); return r.method + await r.clone().text(); },
  response: async () => { const r = Response.json({ a: 1 }); return r.status + await r.text() + new Response('x', { status: 201 }).status; },
  readableStream: async () => { let out = ''; for await (const c of new ReadableStream({ start(c) { c.enqueue('a'); c.close(); } })) out += c; return out; },
  transformStream: async () => { const t = new TransformStream(); const w = t.writable.getWriter(); w.write('t'); w.close(); return (await t.readable.getReader().read()).value; },
  compressionStream: async () => new Response(new Blob(['zip']).stream().pipeThrough(new CompressionStream('gzip')).pipeThrough(new DecompressionStream('gzip'))).text(),
  textDecoderStream: async () => { let out = ''; for await (const c of new Blob(['h\\u00e9']).stream().pipeThrough(new TextDecoderStream())) out += c; return out; },
  eventTarget: () => { const t = new EventTarget(); let n = 0; t.addEventListener('x', () => n++); t.dispatchEvent(new Event('x')); t.dispatchEvent(new CustomEvent('x', { detail: 1 })); return n; },
  abortController: async () => { const c = new AbortController(); let n = 0; c.signal.onabort = () => n++; c.abort('why'); const t = AbortSignal.timeout(1); await new Promise((r) => setTimeout(r, 5)); return n + c.signal.reason + t.aborted; },
  htmlRewriter: async () => new HTMLRewriter().on('p', { element(e) { e.setAttribute('a', '1'); } }).transform(new Response('<p>hi</p>')).text(),
  cache: async () => { await caches.default.put('http://c.test/k', new Response('kept', { headers: { 'cache-control': 'max-age=60' } })); return (await caches.default.match('http://c.test/k')).text(); },
  digest: async () => new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('x')))[0],
  structuredClone: () => { const c = structuredClone({ a: [1], m: new Map([[1, 2]]), e: new RangeError('r') }); return c.a[0] + c.m.get(1) + c.e.message; },
  setTimeout: () => new Promise((resolve) => setTimeout(resolve, 1, 'fired')),
  fetch: async () => { const r = await fetch('${origin}/up'); return r.status + await r.text(); },
  urlPattern: () => new URLPattern({ pathname: '/a/:id' }).exec('http://x.test/a/7').pathname.groups.id,
  domException: () => new DOMException('m', 'AbortError').code,
};
export default { async fetch(req) {
  const got = {};
  for (const [name, use] of Object.entries(tries)) {
    try { got[name] = await use(req); } catch (err) { got[name] = 'threw ' + err; }
  }
  return Response.json(got);
} };`;

let engine: Engine;
let server: Server;
let origin: string;
beforeAll(async () => {
  server = createServer((req, res) => res.end(`upstream ${req.url}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  engine = new Engine({ sched: { quarantine: false } });
});
afterAll(async () => {
  await engine.close();
  server.close();
});

it("keeps the runtime's built-ins working in a tenant that polluted Object.prototype", async () => {
  const answers: Record<string, unknown> = {};
  for (const [name, pollution] of Object.entries(POLLUTIONS)) {
    const fn = `polluted-${name.toLowerCase()}`;
    // The first use of many built-ins evaluates them: more CPU than a request's default limit.
    await engine.deploy(fn, { code: `${pollution}\n${uses(origin)}`, limits: { cpuMs: 2000 }, egress: { allowPrivate: true } });
    const res = await engine.fetch(fn, new Request(`http://${fn}.test/path?q=1`));
    answers[name] = res.status === 200 ? await res.json() : `${res.status} ${await res.text()}`;
  }
  const clean = answers.clean as Record<string, unknown>;
  expect(Object.values(clean).filter((v) => String(v).startsWith('threw'))).toEqual([]);
  for (const [name, got] of Object.entries(answers)) expect({ name, got }).toEqual({ name, got: clean });
});

// Option bags: the runtime's own (an omitted init, a body stream's source and strategy, the streams
// ponyfill's defaults, whatwg-url's parse options) must not take members a tenant gave
// Object.prototype. The tenant here passes no bag of its own (or one with no prototype), so that
// what WebIDL reads from a tenant's dictionary, inherited members included, is not in play.
const BAG_KEYS = ['headers', 'status', 'statusText', 'method', 'body', 'signal', 'cf', 'size', 'highWaterMark', 'start', 'pull', 'cancel', 'type',
  'autoAllocateChunkSize', 'preventClose', 'url', 'encoding', 'stateOverride', 'alphabet', 'endings', 'lastModified', 'window', 'integrity'];

const bagUses = `
const text = async (stream) => { let out = ''; const d = new TextDecoder(); for await (const c of stream) out += d.decode(c, { __proto__: null, stream: true }); return out; };
const tries = {
  url: (req) => { const u = new URL(req.url); u.search = 'z=1'; return u.href + new URL('../a', 'http://x.test/p/q').href + new URL('ftp://f.test/x').href; },
  request: async () => { const r = new Request('http://x.test/'); return [r.method, r.cache, r.redirect, r.integrity, r.signal.aborted, [...r.headers].length].join(); },
  response: async () => { const r = new Response('x'); return r.status + r.statusText + (await r.text()) + [...r.headers].join(); },
  responseJson: async () => { const r = Response.json(1); return r.status + r.headers.get('content-type') + await r.text(); },
  body: async () => text(new Response('body').body),
  requestBody: async (req) => text(req.body),
  clone: async () => { const r = new Response('c'); const c = r.clone(); return (await r.text()) + (await c.text()); },
  transform: async () => text(new Response('t').body.pipeThrough(new TransformStream())),
  pipeTo: async () => { const t = new TransformStream(); const done = new Response('p').body.pipeTo(t.writable); const out = await text(t.readable); await done; return out; },
  compression: async () => new Response(new Response('zip').body.pipeThrough(new CompressionStream('gzip')).pipeThrough(new DecompressionStream('gzip'))).text(),
  textStreams: async () => { let out = ''; for await (const c of new Response('h\\u00e9').body.pipeThrough(new TextDecoderStream()).pipeThrough(new TextEncoderStream()).pipeThrough(new TextDecoderStream())) out += c; return out; },
  identity: async () => { const t = new FixedLengthStream(2); const w = t.writable.getWriter(); w.write(new Uint8Array([104, 105])); w.close(); return text(t.readable); },
  htmlRewriter: async () => new HTMLRewriter().transform(new Response('<p>hi</p>')).text(),
  blob: async () => { const b = new Blob(['ab']); const f = new File(['f'], 'f.txt'); return b.size + b.type + await b.text() + await text(b.stream()) + f.type + typeof f.lastModified; },
  base64: () => new Uint8Array([1, 2]).toBase64() + Uint8Array.fromBase64('AQI=').length,
  cache: async () => { await caches.default.put('http://c.test/k', new Response('kept', { __proto__: null, headers: { 'cache-control': 'max-age=60' } })); return (await caches.default.match('http://c.test/k')).text(); },
};
export default { async fetch(req) {
  const got = {};
  for (const [name, use] of Object.entries(tries)) {
    try { got[name] = String(await use(req)); } catch (err) { got[name] = 'threw ' + err; }
  }
  return new Response(JSON.stringify(got), { __proto__: null });
} };`;

it("keeps the runtime's own option bags from taking members a tenant gave Object.prototype", async () => {
  const answers: Record<string, unknown> = {};
  for (const key of ['', ...BAG_KEYS]) {
    const fn = `bag-${key.toLowerCase() || 'clean'}`;
    const pollution = key ? `Object.prototype[${JSON.stringify(key)}] = 'p';` : '';
    await engine.deploy(fn, { code: `${pollution}\n${bagUses}`, limits: { cpuMs: 2000 } });
    const res = await engine.fetch(fn, new Request(`http://${fn}.test/path?q=1`, { method: 'POST', body: 'in' }));
    answers[key || 'clean'] = res.status === 200 ? await res.json() : `${res.status} ${await res.text()}`;
  }
  const clean = answers.clean as Record<string, unknown>;
  expect(Object.values(clean).filter((v) => String(v).startsWith('threw'))).toEqual([]);
  for (const [key, got] of Object.entries(answers)) expect({ key, got }).toEqual({ key, got: { ...clean, url: String(clean.url).replace('bag-clean', `bag-${key.toLowerCase()}`) } });
});
