// The runtime's host-backed globals, exercised where tenants use them: inside an isolate.
import { createHash } from 'node:crypto';
import { createGzip, deflateRawSync, deflateSync, gunzipSync, gzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/index.ts';

let engine: Engine;

/** Deploys `body` as the inside of an async fetch handler and returns its JSON answer. */
async function run(name: string, body: string): Promise<any> {
  await engine.deploy(name, { code: `export default { async fetch(request, env, ctx) { ${body} } }` });
  const res = await engine.fetch(name, new Request(`http://${name}.test/`));
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

// Booted from the runtime snapshot and plainly: both must behave the same.
describe.each([{ snapshot: true }, { snapshot: false }])('runtime globals (snapshot: $snapshot)', ({ snapshot }) => {
  beforeAll(() => {
    // These tests are about behaviour; a first request on a plainly booted isolate compiles much of
    // the runtime lazily, which on a loaded 2-core machine can approach the default 50 ms.
    engine = new Engine({ snapshot, limits: { cpuMs: 1000 } });
  });
  afterAll(() => engine.close());

  describe('timers', () => {
    it('setTimeout fires in order, clearTimeout cancels, setInterval repeats', async () => {
      const out = await run('timers', `
        const log = [];
        const cancelled = setTimeout(() => log.push('cancelled'), 5);
        clearTimeout(cancelled);
        await new Promise((r) => { setTimeout(() => log.push('b'), 20); setTimeout(() => log.push('a', ...[1, 2]), 10); setTimeout(r, 40); });
        let n = 0;
        await new Promise((r) => { const id = setInterval(() => { if (++n === 3) { clearInterval(id); r(); } }, 5); });
        queueMicrotask(() => log.push('micro'));
        await null;
        return Response.json({ log, n });
      `);
      expect(out).toEqual({ log: ['a', 1, 2, 'b', 'micro'], n: 3 });
    });

    it('calls timer callbacks with the global object as this, so no tenant reaches the timer record', async () => {
      const out = await run('timer-this', `
        let n = 0;
        const thisValues = await new Promise((r) => {
          const seen = [];
          setTimeout(function () { seen.push(this === globalThis); }, 0);
          const id = setInterval(function () {
            seen.push(this === globalThis);
            // Were this the runtime's record, this would stop the interval re-arming.
            this.repeatMs = 0;
            if (++n === 2) { clearInterval(id); r(seen); }
          }, 1);
        });
        return Response.json({ thisValues, n });
      `);
      expect(out).toEqual({ thisValues: [true, true, true], n: 2 });
    });

    it('scheduler.wait sleeps on the same timers, and an AbortSignal stops it with its reason', async () => {
      const out = await run('scheduler-wait', `
        const order = [];
        const started = Date.now();
        await Promise.all([scheduler.wait(30).then(() => order.push('wait 30')), new Promise((r) => setTimeout(r, 10)).then(() => order.push('timeout 10'))]);
        const waited = Date.now() - started;
        const c = new AbortController();
        const aborted = scheduler.wait(10_000, { signal: c.signal }).then(() => 'resolved', (e) => e);
        c.abort('enough');
        const early = await scheduler.wait(5, { signal: AbortSignal.abort() }).then(() => 'resolved', (e) => e.name);
        return Response.json({ order, waited: waited >= 29, aborted: await aborted, early, tag: String(scheduler) });
      `);
      expect(out).toEqual({ order: ['timeout 10', 'wait 30'], waited: true, aborted: 'enough', early: 'AbortError', tag: '[object Scheduler]' });
    });

    it('refuses strings as timer callbacks', async () => {
      const out = await run('timer-string', `
        try { setTimeout('1 + 1', 0); return Response.json('no error'); } catch (e) { return Response.json(e.name); }
      `);
      expect(out).toBe('TypeError');
    });
  });

  describe('crypto', () => {
    it('randomUUID is v4 and unique; getRandomValues fills and enforces the quota', async () => {
      const out = await run('crypto', `
        const ids = new Set(Array.from({ length: 1000 }, () => crypto.randomUUID()));
        const bytes = crypto.getRandomValues(new Uint8Array(32));
        let quota, type;
        try { crypto.getRandomValues(new Uint8Array(65537)); } catch (e) { quota = e.name; }
        try { crypto.getRandomValues(new Float64Array(2)); } catch (e) { type = e.name; }
        return Response.json({ unique: ids.size, sample: [...ids][0], nonZero: bytes.some((b) => b !== 0), quota, type,
          max: crypto.getRandomValues(new Uint8Array(65536)).length });
      `);
      expect(out.unique).toBe(1000);
      expect(out.sample).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(out).toMatchObject({ nonZero: true, quota: 'QuotaExceededError', type: 'TypeMismatchError', max: 65536 });
    });

    it('digests data of any size, past the host\'s piece size too, and crypto.DigestStream as it is written', async () => {
      // 1 MB is four of the host's 256 KB pieces: the host refuses a bigger one (digests.test.ts).
      const out = await run('digests', `
        const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
        const big = new Uint8Array(1024 * 1024 + 3).map((_, i) => i % 251);
        const whole = hex(await crypto.subtle.digest('SHA-256', new DataView(big.buffer, 1, big.length - 1)));
        const stream = new crypto.DigestStream('SHA-256');
        const writer = stream.getWriter();
        await writer.write(big.subarray(1, 10));
        await writer.write(big.slice(10).buffer);
        await writer.close();
        const text = new crypto.DigestStream({ name: 'md5' });
        const w = text.getWriter();
        await w.write('héllo ');
        await w.write(new TextEncoder().encode('world'));
        await w.close();
        const errors = [];
        try { new crypto.DigestStream('SHA-3'); } catch (e) { errors.push(e.name); }
        const bad = new crypto.DigestStream('SHA-1');
        const badWrite = await bad.getWriter().write(42).then(() => 'written', (e) => e.name);
        errors.push(badWrite, await bad.digest.then(() => 'digest', (e) => e.name));
        const aborted = new crypto.DigestStream('SHA-1');
        await aborted.getWriter().abort(new Error('stop'));
        errors.push(await aborted.digest.then(() => 'digest', (e) => e.message));
        return Response.json({ whole, streamed: hex(await stream.digest), md5: hex(await text.digest), errors,
          isWritable: stream instanceof WritableStream, tag: String(stream), bytesWritten: [typeof stream.bytesWritten, String(stream.bytesWritten)] });
      `);
      const big = new Uint8Array(1024 * 1024 + 3).map((_, i) => i % 251);
      const sha256 = createHash('sha256').update(big.subarray(1)).digest('hex');
      expect(out).toEqual({
        whole: sha256, streamed: sha256, md5: createHash('md5').update('héllo world').digest('hex'),
        errors: ['NotSupportedError', 'TypeError', 'TypeError', 'stop'], isWritable: true, tag: '[object DigestStream]',
        bytesWritten: ['bigint', String(1024 * 1024 + 2)],
      });
    });

    it('DigestStreams left open (a handler that returned early) never stop later ones', async () => {
      const out = await run('digests-left-open', `
        for (let i = 0; i < 1100; i++) await new crypto.DigestStream('SHA-1').getWriter().write(new Uint8Array(1));
        const s = new crypto.DigestStream('SHA-256');
        const w = s.getWriter();
        await w.write('x');
        await w.close();
        return Response.json(new Uint8Array(await s.digest).length);
      `);
      expect(out).toBe(32);
    });

    it('crypto.subtle follows Web Crypto where workerd does not: unknown algorithm and key format', async () => {
      const out = await run('subtle-spec', `
        const key = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['encrypt']);
        const name = (p) => p.then(() => 'no error', (e) => e.name);
        return Response.json({
          unknownAlgorithm: await name(crypto.subtle.encrypt('FOO', key, new Uint8Array(1))),
          unknownFormat: await name(crypto.subtle.importKey('pem', new Uint8Array(16), 'AES-GCM', false, ['encrypt'])),
          pbkdf2Cap: await name(crypto.subtle.importKey('raw', new Uint8Array(8), 'PBKDF2', false, ['deriveBits'])
            .then((k) => crypto.subtle.deriveBits({ name: 'PBKDF2', salt: new Uint8Array(8), iterations: 100001, hash: 'SHA-256' }, k, 256))),
          notExtractable: await name(crypto.subtle.exportKey('raw', key)),
        });
      `);
      expect(out).toEqual({ unknownAlgorithm: 'NotSupportedError', unknownFormat: 'TypeError', pbkdf2Cap: 'NotSupportedError', notExtractable: 'InvalidAccessError' });
    });

    it('a non-extractable key stays in the isolate even when tenant code patches CryptoKey', async () => {
      const out = await run('subtle-patch', `
        const key = await crypto.subtle.importKey('raw', new Uint8Array(16).fill(7), 'AES-GCM', false, ['encrypt']);
        Object.defineProperty(CryptoKey.prototype, 'extractable', { get: () => true });
        const leaked = await crypto.subtle.exportKey('raw', key).then(() => 'exported', (e) => e.name);
        return Response.json({ leaked, own: Object.getOwnPropertyNames(key), statics: Object.getOwnPropertyNames(CryptoKey) });
      `);
      expect(out.leaked).toBe('InvalidAccessError');
      expect(out.own).toEqual([]);
      expect(out.statics.sort()).toEqual(['length', 'name', 'prototype']);
    });

    it('AES-GCM takes short IVs, PBKDF2 keys are never extractable, getRandomValues needs a view, timingSafeEqual compares', async () => {
      const out = await run('subtle-edges', `
        const name = (f) => { try { const v = f(); return v instanceof Promise ? v.then(() => 'no error', (e) => e.name) : v; } catch (e) { return e.name; } };
        const key = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['encrypt', 'decrypt']);
        const iv = new Uint8Array(8);
        const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new Uint8Array([1, 2]));
        const opened = [...new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed))];
        const eq = crypto.subtle.timingSafeEqual;
        return Response.json({
          sealed: sealed.byteLength, opened,
          pbkdf2: await name(() => crypto.subtle.importKey('raw', new Uint8Array(4), 'PBKDF2', true, ['deriveBits'])),
          hkdf: await name(() => crypto.subtle.importKey('raw', new Uint8Array(4), 'HKDF', true, ['deriveBits'])),
          pbkdf2Fixed: await name(() => crypto.subtle.importKey('raw', new Uint8Array(4), 'PBKDF2', false, ['deriveBits'])),
          noArgument: name(() => crypto.getRandomValues()), notView: name(() => crypto.getRandomValues([1])),
          equal: [eq.call(crypto.subtle, new Uint8Array([1, 2]), new Uint8Array([1, 2]).buffer), crypto.subtle.timingSafeEqual(new Uint8Array([1, 2]), new Uint16Array([0x0201]))],
          different: crypto.subtle.timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])),
          lengths: name(() => crypto.subtle.timingSafeEqual(new Uint8Array(1), new Uint8Array(2))),
        });
      `);
      expect(out).toEqual({
        sealed: 18, opened: [1, 2], pbkdf2: 'SyntaxError', hkdf: 'SyntaxError', pbkdf2Fixed: 'no error', noArgument: 'TypeError',
        notView: 'TypeError', equal: [true, true], different: false, lengths: 'TypeError',
      });
    });

    it('two isolates never see the same random bytes', async () => {
      const code = 'return Response.json(crypto.randomUUID());';
      const a = await run('rand-a', code);
      const b = await run('rand-b', code);
      expect(a).not.toBe(b);
    });
  });

  describe('URL', () => {
    it('parses on the fast paths and the full ones alike, and makes searchParams on first use in step with the query', async () => {
      const out = await run('url', `
        const fast = new URL('https://Example.com:443/a/b?x=1&y=2#h');
        const full = new URL('HTTPS://Example.com:443/a/./b?x=1&y=2#h');
        const parts = (u) => [u.href, u.origin, u.host, u.port, u.pathname, u.search, u.hash];
        const u = new URL('http://h/p?a=1');
        u.search = '?b=2';
        const afterSearch = u.searchParams.get('b');
        const same = u.searchParams === u.searchParams;
        u.searchParams.append('c', '3 4');
        const v = new URL('http://h/?a=1');
        v.href = 'http://k/?z=9';
        const w = new URL('http://h/?q=1');
        w.searchParams.set('q', '2');
        w.search = '';
        return Response.json({
          fast: parts(fast), full: parts(full), afterSearch, same, href: u.href, vz: v.searchParams.get('z'),
          wSize: [...w.searchParams].length, wHref: w.href, relative: new URL('../c?d', fast).href,
          plain: [...new URL('http://h/?q=a+b&&x&caf\u00e9=1').searchParams], escaped: [...new URLSearchParams('q=a%2Bb&r=%41+%zz')],
        });
      `);
      const expected = ['https://example.com/a/b?x=1&y=2#h', 'https://example.com', 'example.com', '', '/a/b', '?x=1&y=2', '#h'];
      expect(out).toEqual({
        fast: expected, full: expected, afterSearch: '2', same: true, href: 'http://h/p?b=2&c=3+4', vz: '9',
        wSize: 0, wHref: 'http://h/', relative: 'https://example.com/c?d',
        plain: [['q', 'a b'], ['x', ''], ['caf\u00e9', '1']], escaped: [['q', 'a+b'], ['r', 'A %zz']],
      });
    });
  });

  describe('web globals', () => {
    it('a DOMException\'s stack starts with its name and message, as an Error\'s does', async () => {
      const out = await run('domexception-stack', `
        const e = new DOMException('it is over', 'AbortError');
        return Response.json({ first: e.stack.split('\\n')[0], own: Object.hasOwn(e, 'message'), text: String(e) });
      `);
      expect(out).toEqual({ first: 'AbortError: it is over', own: false, text: 'AbortError: it is over' });
    });

    it('structuredClone, atob/btoa, TextEncoder/TextDecoder and URLSearchParams behave as on the web', async () => {
      const out = await run('web', `
        const src = { d: new Date(0), m: new Map([[1, { x: 2 }]]), bytes: new Uint8Array([1, 2, 3]) };
        src.self = src;
        const copy = structuredClone(src);
        let cloneError;
        try { structuredClone(() => 1); } catch (e) { cloneError = e.name; }
        let atobError;
        try { atob('***'); } catch (e) { atobError = e.name; }
        const utf8 = new TextEncoder().encode('héllo ✓');
        return Response.json({
          cycle: copy.self === copy, notSame: copy !== src && copy.m !== src.m, date: copy.d.getTime(), map: copy.m.get(1).x,
          bytes: [...copy.bytes], cloneError, b64: btoa('hi there'), back: atob('aGkgdGhlcmU='), atobError,
          utf8: utf8.length, round: new TextDecoder().decode(utf8),
          params: new URLSearchParams({ a: '1 2', b: 'é' }).toString(), ua: navigator.userAgent,
        coarse: Number.isInteger(performance.now()) && performance.now() >= 0 && performance.timeOrigin > 1.7e12,
        });
      `);
      expect(out).toEqual({
        cycle: true, notSame: true, date: 0, map: 2, bytes: [1, 2, 3], cloneError: 'DataCloneError', b64: 'aGkgdGhlcmU=',
        back: 'hi there', atobError: 'InvalidCharacterError', utf8: 10, round: 'héllo ✓', params: 'a=1+2&b=%C3%A9', ua: 'Cloudflare-Workers',
        coarse: true,
      });
    });

    it('structuredClone refuses platform objects with hidden state and clones Blob and File; TextDecoder reads shared memory', async () => {
      const out = await run('clone-platform', `
        const name = (f) => { try { f(); return 'no error'; } catch (e) { return e.name; } };
        const key = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
        const [blob, file] = structuredClone([new Blob(['ab'], { type: 'text/x' }), new File(['c'], 'f.txt', { lastModified: 5 })]);
        const shared = new Uint8Array(new SharedArrayBuffer(2));
        shared.set([104, 105]);
        return Response.json({
          refused: [new URL('https://a.test/'), new URLSearchParams('a=1'), key, shared.buffer, crypto, performance]
            .map((v) => name(() => structuredClone(v))),
          blob: [blob instanceof Blob, blob.type, await blob.text()], file: [file instanceof File, file.name, file.lastModified],
          decoded: new TextDecoder().decode(shared),
        });
      `);
      expect(out).toEqual({
        refused: Array(6).fill('DataCloneError'), blob: [true, 'text/x', 'ab'], file: [true, 'f.txt', 5], decoded: 'hi',
      });
    });

    it('has workerd\'s global scope identity: a ServiceWorkerGlobalScope with a Navigator, neither constructible', async () => {
      // fixtures/diff/global-scope.js compares these with workerd; here both boots must give them.
      const out = await run('global-identity', `
        const illegal = (f) => { try { f(); return 'no error'; } catch (e) { return e instanceof TypeError && e.message; } };
        return Response.json({
          is: [globalThis instanceof ServiceWorkerGlobalScope, globalThis instanceof WorkerGlobalScope, EventTarget.prototype.isPrototypeOf(globalThis),
            navigator instanceof Navigator, self === globalThis],
          names: [globalThis.constructor.name, Object.prototype.toString.call(globalThis), String(navigator), Navigator.name],
          navigator: [navigator.userAgent, navigator.hardwareConcurrency, navigator.platform, Object.isFrozen(navigator),
            Object.getOwnPropertyDescriptor(navigator, 'userAgent').writable],
          illegal: [illegal(() => new WorkerGlobalScope()), illegal(() => ServiceWorkerGlobalScope()), illegal(() => new Navigator())],
        });
      `);
      expect(out).toEqual({
        is: [true, false, false, true, true],
        names: ['ServiceWorkerGlobalScope', '[object ServiceWorkerGlobalScope]', '[object Navigator]', 'Navigator'],
        navigator: ['Cloudflare-Workers', 1, '', false, false],
        illegal: Array(3).fill('Illegal constructor'),
      });
    });

    it('has the event interfaces workers construct, loaded on first use, and navigator.hardwareConcurrency', async () => {
      const out = await run('event-interfaces', `
        const lazy = ['ErrorEvent', 'PromiseRejectionEvent', 'MessageEvent', 'CloseEvent'].map((n) => typeof Object.getOwnPropertyDescriptor(globalThis, n).get);
        const events = [new ErrorEvent('error', { message: 'm' }).message, new PromiseRejectionEvent('r', { promise: Promise.resolve(), reason: 1 }).reason,
          new MessageEvent('message', { data: 'd' }).data, new CloseEvent('close', { code: 1000 }).code, new CloseEvent('close') instanceof Event];
        return Response.json({ lazy, events, names: [ErrorEvent.name, CloseEvent.name], cores: navigator.hardwareConcurrency });
      `);
      expect(out).toEqual({ lazy: Array(4).fill('function'), events: ['m', 1, 'd', 1000, true], names: ['ErrorEvent', 'CloseEvent'], cores: 1 });
    });

    it('gives the incoming request a signal, and redirect mode manual as workerd does', async () => {
      const out = await run('incoming-request', `
        return Response.json({ signal: Object.prototype.toString.call(request.signal), aborted: request.signal.aborted, same: request.signal === request.signal,
          redirect: request.redirect, forwarded: new Request('https://upstream.test/', request).redirect, integrity: request.integrity, keepalive: request.keepalive });
      `);
      expect(out).toEqual({ signal: '[object AbortSignal]', aborted: false, same: true, redirect: 'manual', forwarded: 'manual', integrity: '', keepalive: false });
    });

    it('console has every method of the Console Standard, each callable', async () => {
      const out = await run('console-methods', `
        const methods = ['assert', 'clear', 'count', 'countReset', 'debug', 'dir', 'dirxml', 'error', 'group', 'groupCollapsed',
          'groupEnd', 'info', 'log', 'table', 'time', 'timeEnd', 'timeLog', 'trace', 'warn'];
        return Response.json(methods.filter((m) => { try { console[m]('probe'); return false; } catch { return true; } }));
      `);
      expect(out).toEqual([]);
    });

    it('every global function and interface is named for its global; classes keep their source names', async () => {
      const out = await run('names', `
        const misnamed = Object.getOwnPropertyNames(globalThis)
          .filter((key) => typeof globalThis[key] === 'function' && globalThis[key].name !== key && globalThis[globalThis[key].name] !== globalThis[key]);
        return Response.json({ misnamed, url: String(Object.getPrototypeOf(new URL('http://a.test/')).constructor.name),
          reader: new ReadableStream().getReader().constructor.name, method: Headers.prototype.get.name });
      `);
      expect(out).toEqual({ misnamed: [], url: 'URL', reader: 'ReadableStreamDefaultReader', method: 'get' });
    });

    it('URLPattern is evaluated on first use, then is the data property WebIDL defines', async () => {
      const out = await run('lazy-pattern', `
        const before = Object.getOwnPropertyDescriptor(globalThis, 'URLPattern');
        const match = new URLPattern({ pathname: '/users/:id' }).exec('https://a.test/users/7').pathname.groups.id;
        const after = Object.getOwnPropertyDescriptor(globalThis, 'URLPattern');
        const mine = function Mine() {};
        URLPattern = mine;
        return Response.json({ lazy: typeof before.get, match, after: [typeof after.value, after.writable, after.enumerable, after.configurable],
          name: after.value.name, replaced: globalThis.URLPattern === mine && mine.name === 'Mine' });
      `);
      expect(out).toEqual({ lazy: 'function', match: '7', after: ['function', true, false, true], name: 'URLPattern', replaced: true });
    });

    describe('compression streams', () => {
      // A few hundred KB that compress some but not all the way: words, with random bytes between.
      const data = new Uint8Array(300_000);
      const words = new TextEncoder().encode('the quick brown fox jumps over the lazy dog ');
      for (let i = 0, x = 1; i < data.length; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        data[i] = (x >>> 24) % 4 === 0 ? x >>> 16 : words[i % words.length]!;
      }
      const zlibOf = { gzip: [gzipSync, gunzipSync], deflate: [deflateSync, inflateSync], 'deflate-raw': [deflateRawSync, inflateRawSync] } as const;

      it('are evaluated on first use and round trip a few hundred KB in uneven chunks', async () => {
        const out = await run('compression-lazy', `
          const lazy = ['CompressionStream', 'DecompressionStream'].map((n) => typeof Object.getOwnPropertyDescriptor(globalThis, n).get);
          const data = new Uint8Array(300000);
          for (let i = 0, x = 7; i < data.length; i++) { x = (x * 1103515245 + 12345) >>> 0; data[i] = (x >>> 24) % 3 ? i % 61 : x >>> 16; }
          const pieces = (bytes, size) => { const out = []; for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size)); return out; };
          const pass = async (chunks, stream) => {
            const done = new Response(stream.readable).arrayBuffer();
            const writer = stream.writable.getWriter();
            for (const chunk of chunks) writer.write(chunk);
            writer.close();
            return new Uint8Array(await done);
          };
          const same = [];
          for (const format of ['gzip', 'deflate', 'deflate-raw']) {
            const compressed = await pass(pieces(data, 70001), new CompressionStream(format));
            const back = await pass(pieces(compressed, 999), new DecompressionStream(format));
            same.push(back.length === data.length && back.every((b, i) => b === data[i]) && compressed.length < data.length);
          }
          const after = Object.getOwnPropertyDescriptor(globalThis, 'CompressionStream');
          return Response.json({ lazy, same, after: [typeof after.value, after.writable, after.enumerable, after.configurable], names: [CompressionStream.name, DecompressionStream.name],
            tag: Object.prototype.toString.call(new DecompressionStream('gzip')) });
        `);
        expect(out).toEqual({ lazy: ['function', 'function'], same: [true, true, true], after: ['function', true, false, true],
          names: ['CompressionStream', 'DecompressionStream'], tag: '[object DecompressionStream]' });
      });

      it('write what node:zlib reads and read what it writes, as request and response bodies', async () => {
        await engine.deploy('compression-pipe', {
          code: `export default { fetch(request) {
            const { pathname, searchParams } = new URL(request.url);
            const Stream = pathname === '/compress' ? CompressionStream : DecompressionStream;
            return new Response(request.body.pipeThrough(new Stream(searchParams.get('format'))));
          } }`,
        });
        const post = async (path: string, body: Uint8Array) => {
          const res = await engine.fetch('compression-pipe', new Request(`http://c.test${path}`, { method: 'POST', body }));
          expect(res.status).toBe(200);
          return new Uint8Array(await res.arrayBuffer());
        };
        for (const [format, [compress, decompress]] of Object.entries(zlibOf)) {
          expect(Buffer.compare(decompress(await post(`/compress?format=${format}`, data)), data), format).toBe(0);
          expect(Buffer.compare(await post(`/decompress?format=${format}`, compress(data)), data), format).toBe(0);
        }
      });

      it('error with a TypeError on unknown formats, chunks that are no BufferSource, corrupt, truncated and trailing data', async () => {
        const gzip = gzipSync(data);
        const corrupt = Buffer.from(gzip);
        corrupt[corrupt.length - 8] ^= 1;
        await engine.deploy('compression-errors', {
          code: `export default { async fetch(request) {
            const bytes = new Uint8Array(await request.arrayBuffer());
            const name = async (f) => { try { await f(); return 'no error'; } catch (e) { return e.name; } };
            const gunzip = (...chunks) => name(async () => {
              const stream = new DecompressionStream('gzip');
              const done = new Response(stream.readable).arrayBuffer();
              const writer = stream.writable.getWriter();
              for (const chunk of chunks) writer.write(chunk).catch(() => {});
              writer.close().catch(() => {});
              await done;
            });
            return Response.json({
              unknown: await name(() => new CompressionStream('brotli')), missing: await name(() => new DecompressionStream()),
              string: await name(() => new Response(new Blob(['x']).stream().pipeThrough(new TextDecoderStream()).pipeThrough(new CompressionStream('gzip'))).arrayBuffer()),
              whole: await gunzip(bytes.subarray(0, ${gzip.length})),
              corrupt: await gunzip(bytes.subarray(${gzip.length})),
              truncated: await gunzip(bytes.subarray(0, ${gzip.length - 1})),
              trailing: await gunzip(bytes.subarray(0, ${gzip.length}), Uint8Array.of(0)),
            });
          } }`,
        });
        const res = await engine.fetch('compression-errors', new Request('http://c.test/', { method: 'POST', body: Buffer.concat([gzip, corrupt]) }));
        expect(await res.json()).toEqual({ unknown: 'TypeError', missing: 'TypeError', string: 'TypeError', whole: 'no error', corrupt: 'TypeError', truncated: 'TypeError', trailing: 'TypeError' });
      });

      it('a decompression bomb meets the tenant\'s memory limit, not the host\'s', async () => {
        // 256 MB of zeros, gzipped in pieces so the host never holds them: about 250 KB.
        const gzip = createGzip();
        const zeros = Buffer.alloc(1 << 20);
        const parts: Buffer[] = [];
        gzip.on('data', (part: Buffer) => parts.push(part));
        const ended = new Promise((resolve) => gzip.on('end', resolve));
        for (let i = 0; i < 256; i++) gzip.write(zeros);
        gzip.end();
        await ended;
        await engine.deploy('compression-bomb', {
          code: `export default { async fetch(request) {
            const out = await new Response(request.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
            return new Response(String(out.byteLength));
          } }`,
          limits: { memoryMb: 32, cpuMs: 5_000 },
        });
        const bomb = Buffer.concat(parts);
        const res = await engine.fetch('compression-bomb', new Request('http://c.test/', { method: 'POST', body: bomb }));
        expect([res.status, res.headers.get('islet-error')]).toEqual([503, 'memory-limit']);
        // The same function, with a body it can hold, works in a new isolate.
        const small = await engine.fetch('compression-bomb', new Request('http://c.test/', { method: 'POST', body: gzipSync(zeros) }));
        expect(await small.text()).toBe(String(zeros.length));
      });
    });

    it('FormData uploads parse, and multipart and Blob bodies go out', async () => {
      await engine.deploy('forms', {
        code: `export default { async fetch(request) {
          if (request.method === 'POST') {
            const form = await request.formData();
            const file = form.get('upload');
            return Response.json({ name: form.get('name'), file: file.name, type: file.type, text: await file.text() });
          }
          const out = new FormData();
          out.append('greeting', 'hi');
          out.append('blob', new Blob(['bytes'], { type: 'text/x-b' }), 'b.txt');
          return new Response(out);
        } }`,
      });
      const upload = new FormData();
      upload.append('name', 'ada');
      upload.append('upload', new Blob(['file body'], { type: 'text/plain' }), 'notes.txt');
      const posted = await engine.fetch('forms', new Request('http://forms.test/', { method: 'POST', body: upload }));
      expect(await posted.json()).toEqual({ name: 'ada', file: 'notes.txt', type: 'text/plain', text: 'file body' });
      const got = await engine.fetch('forms', new Request('http://forms.test/'));
      expect(got.headers.get('content-type')).toMatch(/^multipart\/form-data; boundary=/);
      const parsed = await got.formData();
      expect(parsed.get('greeting')).toBe('hi');
      const blob = parsed.get('blob') as File;
      expect([blob.name, blob.type, await blob.text()]).toEqual(['b.txt', 'text/x-b', 'bytes']);
    });

    it('Request and Response follow the Fetch standard at the boundary', async () => {
      await engine.deploy('fetch-shapes', {
        code: `export default { async fetch(request) {
          const u = new URL(request.url);
          if (u.pathname === '/redirect') return Response.redirect('https://example.com/next', 307);
          if (u.pathname === '/bytes') return new Response(new Uint8Array([104, 105]), { headers: { 'x-kind': 'bytes' } });
          if (u.pathname === '/cookies') { const h = new Headers(); h.append('set-cookie', 'a=1'); h.append('set-cookie', 'b=2'); return new Response(null, { status: 204, headers: h }); }
          return Response.json({ method: request.method, ct: request.headers.get('content-type'), body: await request.text(), immutable: (() => { try { request.headers.set('x', '1'); return false } catch { return true } })() });
        } }`,
      });
      const go = (path: string, init?: RequestInit) => engine.fetch('fetch-shapes', new Request(`http://f.test${path}`, init));
      const redirect = await go('/redirect');
      expect([redirect.status, redirect.headers.get('location')]).toEqual([307, 'https://example.com/next']);
      const bytes = await go('/bytes');
      expect([await bytes.text(), bytes.headers.get('content-type'), bytes.headers.get('x-kind')]).toEqual(['hi', null, 'bytes']);
      const cookies = await go('/cookies');
      expect([cookies.status, cookies.headers.getSetCookie()]).toEqual([204, ['a=1', 'b=2']]);
      const echo = await go('/echo', { method: 'PUT', body: 'payload', headers: { 'content-type': 'text/x-thing' } });
      expect(await echo.json()).toEqual({ method: 'PUT', ct: 'text/x-thing', body: 'payload', immutable: true });
    });
  });
});
