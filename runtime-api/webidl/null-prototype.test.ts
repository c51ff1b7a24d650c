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
