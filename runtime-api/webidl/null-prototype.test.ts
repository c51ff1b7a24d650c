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

// Web Crypto's "normalize an algorithm" (§18.4) reads the members of the named algorithm's own
// dictionary for the operation, inherited ones included, and no others. Each use says which members
// it leaves for the prototype to give (those its dictionaries have and it does not set itself):
// with one of those polluted, the use may fail, as it does on workerd; with any other it must not.
const CRYPTO_USES: Record<string, { reads: string[]; code: string }> = {
  hmac: {
    reads: ['length'],
    code: `const k = await s.importKey('raw', bytes(32), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
      const sig = await s.sign({ name: 'HMAC' }, k, bytes(4)); return hex(sig) + await s.verify({ name: 'HMAC' }, k, sig, bytes(4));`,
  },
  hmacGenerate: {
    reads: ['length'],
    code: `const k = await s.generateKey({ name: 'HMAC', hash: { name: 'SHA-256' } }, true, ['sign']); return k.algorithm.length + k.algorithm.hash.name;`,
  },
  aesGcm: {
    reads: ['additionalData', 'tagLength'],
    code: `const k = await s.importKey('raw', bytes(16), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
      const c = await s.encrypt({ name: 'AES-GCM', iv: bytes(12) }, k, bytes(5)); return hex(c) + hex(await s.decrypt({ name: 'AES-GCM', iv: bytes(12) }, k, c));`,
  },
  aesCbc: {
    reads: [],
    code: `const k = await s.importKey('raw', bytes(16), { name: 'AES-CBC' }, false, ['encrypt']); return hex(await s.encrypt({ name: 'AES-CBC', iv: bytes(16) }, k, bytes(5)));`,
  },
  aesCtr: {
    reads: [],
    code: `const k = await s.importKey('raw', bytes(16), { name: 'AES-CTR' }, false, ['encrypt']); return hex(await s.encrypt({ name: 'AES-CTR', counter: bytes(16), length: 64 }, k, bytes(5)));`,
  },
  aesKw: {
    reads: [],
    code: `const kek = await s.importKey('raw', bytes(16), { name: 'AES-KW' }, false, ['wrapKey', 'unwrapKey']);
      const k = await s.generateKey({ name: 'AES-GCM', length: 128 }, true, ['encrypt']);
      const wrapped = await s.wrapKey('raw', k, kek, { name: 'AES-KW' });
      const back = await s.unwrapKey('raw', wrapped, kek, { name: 'AES-KW' }, { name: 'AES-GCM' }, true, ['encrypt']);
      return wrapped.byteLength + back.algorithm.name + back.algorithm.length;`,
  },
  ecdsa: {
    reads: [],
    code: `const p = await s.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
      const sig = await s.sign({ name: 'ECDSA', hash: 'SHA-256' }, p.privateKey, bytes(4)); return await s.verify({ name: 'ECDSA', hash: 'SHA-256' }, p.publicKey, sig, bytes(4));`,
  },
  ecdh: {
    reads: [],
    code: `const a = await s.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']); const b = await s.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
      return hex(await s.deriveBits({ name: 'ECDH', public: b.publicKey }, a.privateKey, 256)) === hex(await s.deriveBits({ name: 'ECDH', public: a.publicKey }, b.privateKey, 256));`,
  },
  ed25519: {
    reads: [],
    code: `const p = await s.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']); return s.verify({ name: 'Ed25519' }, p.publicKey, await s.sign({ name: 'Ed25519' }, p.privateKey, bytes(4)), bytes(4));`,
  },
  rsaPss: {
    reads: [],
    code: `const p = await s.generateKey({ name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, false, ['sign', 'verify']);
      return s.verify({ name: 'RSA-PSS', saltLength: 32 }, p.publicKey, await s.sign({ name: 'RSA-PSS', saltLength: 32 }, p.privateKey, bytes(4)), bytes(4));`,
  },
  rsaOaep: {
    reads: ['label'],
    code: `const p = await s.generateKey({ name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, false, ['encrypt', 'decrypt']);
      return hex(await s.decrypt({ name: 'RSA-OAEP' }, p.privateKey, await s.encrypt({ name: 'RSA-OAEP' }, p.publicKey, bytes(5))));`,
  },
  pbkdf2: {
    reads: [],
    code: `const k = await s.importKey('raw', bytes(8), { name: 'PBKDF2' }, false, ['deriveBits']);
      return hex(await s.deriveBits({ name: 'PBKDF2', salt: bytes(8), iterations: 1000, hash: 'SHA-256' }, k, 128));`,
  },
  hkdf: {
    reads: [],
    code: `const k = await s.importKey('raw', bytes(8), { name: 'HKDF' }, false, ['deriveKey']);
      const d = await s.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: bytes(8), info: bytes(2) }, k, { name: 'AES-GCM', length: 128 }, true, ['encrypt']);
      return hex(await s.exportKey('raw', d));`,
  },
};
const CRYPTO_MEMBERS = ['iv', 'salt', 'info', 'label', 'counter', 'additionalData', 'publicExponent', 'modulusLength', 'iterations', 'tagLength',
  'length', 'hash', 'saltLength', 'namedCurve', 'public', 'context'];

const cryptoUses = `
const s = crypto.subtle;
const bytes = (n) => new Uint8Array(n).map((_, i) => i + 1);
const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
const tries = {
${Object.entries(CRYPTO_USES).map(([name, use]) => `  ${name}: async () => { ${use.code} },`).join('\n')}
};
export default { async fetch() {
  const got = {};
  for (const [name, use] of Object.entries(tries)) {
    try { got[name] = String(await use()); } catch (err) { got[name] = 'threw ' + err; }
  }
  return Response.json(got);
} };`;

it('reads only the members of the algorithm dictionary for the operation, whatever a tenant gave Object.prototype', async () => {
  const answers: Record<string, Record<string, string>> = {};
  for (const member of ['', ...CRYPTO_MEMBERS]) {
    const fn = `crypto-${member.toLowerCase() || 'clean'}`;
    // An object is no BufferSource, number, hash or CryptoKey: whichever member the runtime reads, it fails.
    const pollution = member ? `Object.prototype[${JSON.stringify(member)}] = {};` : '';
    await engine.deploy(fn, { code: `${pollution}\n${cryptoUses}`, limits: { cpuMs: 2000 } });
    const res = await engine.fetch(fn, new Request(`http://${fn}.test/`));
    expect(res.status).toBe(200);
    answers[member || 'clean'] = await res.json() as Record<string, string>;
  }
  const clean = answers.clean!;
  expect(Object.values(clean).filter((v) => v.startsWith('threw'))).toEqual([]);
  const unread = (member: string, got: Record<string, string>) => Object.fromEntries(Object.entries(got).filter(([use]) => !CRYPTO_USES[use]!.reads.includes(member)));
  const byMember = (got: (member: string) => Record<string, string>) => Object.fromEntries(CRYPTO_MEMBERS.map((m) => [m, unread(m, got(m))]));
  expect(byMember((m) => answers[m]!)).toEqual(byMember(() => clean));
});

// The URLPattern polyfill parses a constructor string into a dictionary of its own, and a test() or
// exec() input string into another, then reads each member: one a tenant gave Object.prototype was
// taken as part of the pattern or the input. (A URLPatternInit the tenant passes has no prototype
// here: WebIDL reads its inherited members too.)
const URL_PATTERN_MEMBERS = ['protocol', 'username', 'password', 'hostname', 'port', 'pathname', 'search', 'hash', 'baseURL'];

const urlPatternUses = `
const tries = {
  parse: () => { const p = new URLPattern('http://x.test/a/:id'); return [p.protocol, p.username, p.password, p.hostname, p.port, p.pathname, p.search, p.hash].join('|'); },
  relative: () => new URLPattern('/a/:id', 'http://x.test').hostname,
  exec: () => new URLPattern('http://x.test/a/:id').exec('http://x.test/a/7').pathname.groups.id,
  test: () => new URLPattern('http://x.test/a/:id').test('http://x.test/a/7?q#h'),
  testBase: () => new URLPattern({ __proto__: null, pathname: '/a/:id' }).test('/a/7', 'http://x.test'),
};
export default { async fetch() {
  const got = {};
  for (const [name, use] of Object.entries(tries)) {
    try { got[name] = String(use()); } catch (err) { got[name] = 'threw ' + err; }
  }
  return Response.json(got);
} };`;

it("parses a URLPattern's strings into dictionaries that take nothing from Object.prototype", async () => {
  const answers: Record<string, unknown> = {};
  for (const member of ['', ...URL_PATTERN_MEMBERS]) {
    const fn = `url-pattern-${member.toLowerCase() || 'clean'}`;
    const pollution = member ? `Object.prototype[${JSON.stringify(member)}] = 'polluted';` : '';
    await engine.deploy(fn, { code: `${pollution}\n${urlPatternUses}`, limits: { cpuMs: 2000 } });
    const res = await engine.fetch(fn, new Request(`http://${fn}.test/`));
    answers[member || 'clean'] = res.status === 200 ? await res.json() : `${res.status} ${await res.text()}`;
  }
  const clean = answers.clean as Record<string, string>;
  expect(Object.values(clean).filter((v) => v.startsWith('threw'))).toEqual([]);
  expect(answers).toEqual(Object.fromEntries(['clean', ...URL_PATTERN_MEMBERS].map((m) => [m, clean])));
});
