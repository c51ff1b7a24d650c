import { describe, expect, it } from 'vitest';
import { parseCacheControl, storability } from './cache-control.ts';
import { byteRange } from './conditional.ts';
import { CacheError, CacheStore, FunctionCache, type CachedResponse } from './cache-store.ts';
import { runCacheOp } from './cache-ops.ts';

const NOW = Date.UTC(2026, 10, 27);
const get = (url: string, headers: string[] = []) => ({ method: 'GET', url, headers });
const bytes = (text: string) => new TextEncoder().encode(text).buffer as ArrayBuffer;
const res = (status: number, headers: string[], body = 'hello'): CachedResponse => ({ status, statusText: '', headers, body: bytes(body) });
const text = (r: CachedResponse | undefined) => (r?.body ? new TextDecoder().decode(r.body) : r?.body);
const header = (r: CachedResponse | undefined, name: string) => {
  const i = r?.headers.findIndex((h, j) => j % 2 === 0 && h === name) ?? -1;
  return i === -1 ? undefined : r!.headers[i + 1];
};

describe('Cache-Control', () => {
  it('splits directives, with quoted values that hold commas', () => {
    const cc = parseCacheControl('public, Max-Age=60, private="set-cookie, x-a", s-maxage = 5');
    expect([...cc]).toEqual([['public', true], ['max-age', '60'], ['private', 'set-cookie, x-a'], ['s-maxage', '5']]);
  });

  it('keeps what a shared cache keeps, for as long as the response says or Cloudflare\'s default for its status', () => {
    const s = (status: number, h: Record<string, string>) => storability(status, new Map(Object.entries(h)), NOW);
    expect(s(200, { 'cache-control': 'max-age=60' })).toEqual({ store: true, ttlMs: 60_000, dropHeaders: [] });
    expect(s(200, { 'cache-control': 'max-age=60, s-maxage=10' })).toMatchObject({ ttlMs: 10_000 });
    expect(s(200, {})).toMatchObject({ ttlMs: 7_200_000 });
    expect(s(404, {})).toMatchObject({ ttlMs: 180_000 });
    expect(s(500, {})).toMatchObject({ store: false });
    expect(s(500, { 'cache-control': 'max-age=5' })).toMatchObject({ store: true, ttlMs: 5_000 });
    for (const cc of ['no-store', 'no-cache', 'private', 'max-age=0', 'max-age=soon']) expect(s(200, { 'cache-control': cc })).toMatchObject({ store: false });
    expect(s(200, { expires: new Date(NOW + 30_000).toUTCString() })).toMatchObject({ ttlMs: 30_000 });
    expect(s(200, { expires: 'yesterday' })).toMatchObject({ store: false });
    expect(s(200, { 'set-cookie': 'a=1' })).toMatchObject({ store: false, why: expect.stringContaining('Set-Cookie') });
    expect(s(200, { 'set-cookie': 'a=1', 'cache-control': 'private=Set-Cookie, max-age=9' })).toEqual({ store: true, ttlMs: 9_000, dropHeaders: ['set-cookie'] });
    // Its age so far is spent (RFC 9111 §4.2.3): Age, or how long ago its Date was.
    expect(s(200, { 'cache-control': 'max-age=60', age: '50' })).toMatchObject({ ttlMs: 10_000 });
    expect(s(200, { 'cache-control': 'max-age=60', age: '1000' })).toMatchObject({ store: false });
    const hourAgo = new Date(NOW - 3_600_000).toUTCString();
    expect(s(200, { expires: new Date(NOW - 1_000).toUTCString(), date: hourAgo })).toMatchObject({ store: false });
    expect(s(200, { 'cache-control': 'max-age=7200', date: hourAgo })).toMatchObject({ ttlMs: 3_600_000 });
    // Expires must be an HTTP-date; anything else is the past.
    expect(s(200, { expires: '2099' })).toMatchObject({ store: false });
  });
});

describe('byte ranges', () => {
  it('answers one range, a suffix or an open end; ignores what it does not understand', () => {
    expect(byteRange('bytes=0-1', 5)).toEqual({ start: 0, end: 1 });
    expect(byteRange('bytes=2-', 5)).toEqual({ start: 2, end: 4 });
    expect(byteRange('bytes=-2', 5)).toEqual({ start: 3, end: 4 });
    expect(byteRange('bytes=1-100', 5)).toEqual({ start: 1, end: 4 });
    expect(byteRange('bytes=5-', 5)).toBe('unsatisfiable');
    expect(byteRange('bytes=0-1,3-4', 5)).toBeUndefined();
    expect(byteRange('items=0-1', 5)).toBeUndefined();
    expect(byteRange('bytes=3-1', 5)).toBeUndefined();
  });
});

describe('FunctionCache', () => {
  it('keeps, answers and deletes by URL (not its fragment), per cache name', () => {
    const c = new FunctionCache(1 << 20);
    c.put('', get('https://a.test/x'), res(200, ['content-type', 'text/plain', 'cache-control', 'max-age=60']), NOW);
    const hit = c.match('', get('https://a.test/x#frag'), false, NOW);
    expect([hit?.status, text(hit), header(hit, 'content-type'), header(hit, 'cf-cache-status')]).toEqual([200, 'hello', 'text/plain', 'HIT']);
    expect(c.match('other', get('https://a.test/x'), false, NOW)).toBeUndefined();
    expect(c.match('', { ...get('https://a.test/x'), method: 'POST' }, false, NOW)).toBeUndefined();
    expect(c.match('', { ...get('https://a.test/x'), method: 'POST' }, true, NOW)?.status).toBe(200);
    expect(c.delete('', get('https://a.test/x'), false)).toBe(true);
    expect(c.delete('', get('https://a.test/x'), false)).toBe(false);
    expect(c.bytes).toBe(0);
  });

  it('refuses what the Cache API refuses, and does not keep what a shared cache may not', () => {
    const c = new FunctionCache(1 << 20);
    expect(() => c.put('', { ...get('https://a.test/'), method: 'POST' }, res(200, []))).toThrow(CacheError);
    expect(() => c.put('', get('https://a.test/'), res(206, []))).toThrow(/206/);
    expect(() => c.put('', get('https://a.test/'), res(200, ['vary', 'accept, *']))).toThrow(/Vary: \*/);
    expect(() => c.put('', get('ftp://a.test/'), res(200, []))).toThrow(/http and https/);
    c.put('', get('https://a.test/'), res(200, []), NOW);
    // Replaced by one that may not be kept: nothing is kept.
    c.put('', get('https://a.test/'), res(200, ['cache-control', 'no-store']), NOW);
    expect(c.match('', get('https://a.test/'), false, NOW)).toBeUndefined();
    // Kept without the headers private= names.
    c.put('', get('https://a.test/c'), res(200, ['set-cookie', 'id=1', 'cache-control', 'private="set-cookie"']), NOW);
    expect(header(c.match('', get('https://a.test/c'), false, NOW), 'set-cookie')).toBeUndefined();
  });

  it('forgets a response once stale', () => {
    const c = new FunctionCache(1 << 20);
    c.put('', get('https://a.test/'), res(200, ['cache-control', 'max-age=10']), NOW);
    expect(c.match('', get('https://a.test/'), false, NOW + 9_999)).toBeDefined();
    expect(c.match('', get('https://a.test/'), false, NOW + 10_000)).toBeUndefined();
    expect(c.bytes).toBe(0);
  });

  it('answers conditional and range requests from what it keeps', () => {
    const c = new FunctionCache(1 << 20);
    const lastModified = new Date(NOW - 60_000).toUTCString();
    c.put('', get('https://a.test/'), res(200, ['etag', 'W/"v1"', 'last-modified', lastModified, 'content-length', '5'], 'hello'), NOW);
    const match = (h: string[]) => c.match('', get('https://a.test/', h), false, NOW);
    expect(match(['if-none-match', '"v0", "v1"'])?.status).toBe(304);
    expect(match(['if-none-match', '"v2"'])?.status).toBe(200);
    expect(match(['if-modified-since', new Date(NOW).toUTCString()])?.status).toBe(304);
    expect(match(['if-modified-since', new Date(NOW - 120_000).toUTCString()])?.status).toBe(200);
    const part = match(['range', 'bytes=1-3']);
    expect([part?.status, text(part), header(part, 'content-range'), header(part, 'content-length')]).toEqual([206, 'ell', 'bytes 1-3/5', undefined]);
    expect(match(['range', 'bytes=9-'])?.status).toBe(416);
    // If-Range: the range only while the client's copy is this one (a strong tag, or the date).
    c.put('', get('https://a.test/strong'), res(200, ['etag', '"s1"', 'last-modified', lastModified], 'hello'), NOW);
    const ranged = (h: string[]) => c.match('', get('https://a.test/strong', ['range', 'bytes=0-1', ...h]), false, NOW)?.status;
    expect([ranged(['if-range', '"s1"']), ranged(['if-range', '"s0"']), ranged(['if-range', 'W/"s1"']), ranged(['if-range', lastModified]), ranged(['if-range', 'yesterday'])])
      .toEqual([206, 200, 200, 206, 200]);
    // An entity tag with a comma inside its quotes is one tag.
    c.put('', get('https://a.test/comma'), res(200, ['etag', '"a,b"'], 'x'), NOW);
    expect(c.match('', get('https://a.test/comma', ['if-none-match', '"a,b"']), false, NOW)?.status).toBe(304);
    // Not an HTTP-date: ignored.
    expect(match(['if-modified-since', '2030'])?.status).toBe(200);
  });

  it('applies preconditions only to responses that would be a 2xx (RFC 9110 §13.2.1)', () => {
    const c = new FunctionCache(1 << 20);
    c.put('', get('https://a.test/gone'), res(404, ['etag', '"n"'], 'missing'), NOW);
    expect(c.match('', get('https://a.test/gone', ['if-none-match', '*']), false, NOW)?.status).toBe(404);
    expect(c.match('', get('https://a.test/gone', ['if-none-match', '"n"']), false, NOW)?.status).toBe(404);
  });

  it('counts what an entry really costs: many tiny headers are refused past 256, and packed', () => {
    const c = new FunctionCache(1 << 20);
    const many = Array.from({ length: 300 }, (_, i) => [`h${i}`, '']).flat();
    expect(() => c.put('', get('https://a.test/'), res(200, many, ''), NOW)).toThrow(/at most 256 headers/);
    c.put('', get('https://a.test/'), res(200, many.slice(0, 400), ''), NOW);
    // 200 headers of two or three characters: more than their text, with each string's own cost.
    expect(c.bytes).toBeGreaterThan(2 * JSON.stringify(many.slice(0, 400)).length);
  });

  it('looks at a put with thousands of headers and a long private= list for a moment, not for a quadratic while', () => {
    // 9,000 headers and 30,000 names to keep without: 0.23 s of the host's loop each, before.
    const c = new FunctionCache(1 << 20);
    const names = Array.from({ length: 30_000 }, (_, i) => `n${i}`).join(',');
    const many = ['cache-control', `max-age=60, private="${names}"`, ...Array.from({ length: 9_000 }, (_, i) => [`h${i}`, '']).flat()];
    const started = performance.now();
    expect(() => c.put('', get('https://a.test/'), res(200, many, ''), NOW)).toThrow(/at most 256 headers, this one has 9001/);
    // Within the header bound, the private= list is still a set: 250 headers against 30,000 names.
    c.put('', get('https://a.test/'), res(200, many.slice(0, 2 + 2 * 250), ''), NOW);
    expect(performance.now() - started).toBeLessThan(250);
    expect(header(c.match('', get('https://a.test/'), false, NOW), 'h1')).toBe('');
  });

  it('takes a dropped function\'s puts as nothing', () => {
    const store = new CacheStore(1 << 20);
    store.configure('gone', 1 << 20);
    const old = store.get('gone')!;
    store.drop('gone');
    old.put('', get('https://a.test/'), res(200, []), NOW);
    expect([old.bytes, store.bytes]).toEqual([0, 0]);
  });

  it('keeps to its bound, least recently used out, and refuses an entry bigger than all of it', () => {
    const c = new FunctionCache(4_000);
    for (const path of ['a', 'b', 'c']) c.put('', get(`https://a.test/${path}`), res(200, [], 'x'.repeat(400)), NOW);
    c.match('', get('https://a.test/a'), false, NOW);
    c.put('', get('https://a.test/d'), res(200, [], 'x'.repeat(400)), NOW);
    expect(['a', 'b', 'c', 'd'].map((p) => c.match('', get(`https://a.test/${p}`), false, NOW) !== undefined)).toEqual([true, false, true, true]);
    expect(c.bytes).toBeLessThanOrEqual(4_000);
    // A redeploy with a smaller cacheMb: what no longer fits goes, least recently used first.
    c.resize(2_500);
    expect(['a', 'c', 'd'].map((p) => c.match('', get(`https://a.test/${p}`), false, NOW) !== undefined)).toEqual([false, true, true]);
    expect(() => c.put('', get('https://a.test/big'), res(200, [], 'x'.repeat(5_000)), NOW)).toThrow(/larger than this function's whole cache/);
  });
});

describe('CacheStore', () => {
  it('bounds all functions together, taking back from the one holding the most; drops a function\'s with it', () => {
    const store = new CacheStore(4_000);
    store.configure('a', 1 << 20);
    store.configure('b', 1 << 20);
    const a = store.get('a')!;
    const b = store.get('b')!;
    for (let i = 0; i < 4; i++) a.put('', get(`https://a.test/${i}`), res(200, [], 'x'.repeat(700)), NOW);
    b.put('', get('https://b.test/'), res(200, [], 'x'.repeat(700)), NOW);
    expect(store.bytes).toBeLessThanOrEqual(4_000);
    // b's one entry stays; a lost its oldest.
    expect(b.match('', get('https://b.test/'), false, NOW)).toBeDefined();
    expect(a.match('', get('https://a.test/0'), false, NOW)).toBeUndefined();
    expect(a.match('', get('https://a.test/3'), false, NOW)).toBeDefined();
    store.configure('a', 1 << 20);
    expect(store.get('a')).toBe(a);
    store.drop('a');
    expect(store.bytes).toBe(b.bytes);
    expect(store.get('a')).toBeUndefined();
  });
});

describe('CacheStore bounds under pressure', () => {
  it('makes room for a big entry among many small ones, counting each eviction once', () => {
    const store = new CacheStore(5_000);
    store.configure('f', 1 << 20);
    const f = store.get('f')!;
    f.put('', get('https://a.test/small1'), res(200, [], 'x'.repeat(900)), NOW);
    f.put('', get('https://a.test/small2'), res(200, [], 'x'.repeat(900)), NOW);
    // Room for it takes both small ones out.
    f.put('', get('https://a.test/big'), res(200, [], 'x'.repeat(3_600)), NOW);
    expect(store.bytes).toBe(f.bytes);
    expect(store.bytes).toBeLessThanOrEqual(5_000);
    expect(f.match('', get('https://a.test/big'), false, NOW)).toBeDefined();
    expect(f.match('', get('https://a.test/small1'), false, NOW)).toBeUndefined();
    expect(f.match('', get('https://a.test/small2'), false, NOW)).toBeUndefined();
  });

  it('evicts thousands of tiny entries for one put without recursing', () => {
    const store = new CacheStore(8 << 20);
    store.configure('f', 64 << 20);
    const f = store.get('f')!;
    for (let i = 0; i < 10_000; i++) f.put('', get(`https://a.test/${i}`), res(200, [], ''), NOW);
    f.put('', get('https://a.test/big'), res(200, [], 'x'.repeat(7 << 20)), NOW);
    expect(store.bytes).toBe(f.bytes);
    expect(store.bytes).toBeLessThanOrEqual(8 << 20);
  });
});

describe('runCacheOp', () => {
  it('checks every field a sandbox sends, and keeps its own copy of a body', () => {
    const c = new FunctionCache(1 << 20);
    const req = ['GET', 'https://a.test/', []];
    for (const bad of [[c, 'match', 5, req, null, false], [c, 'match', '', ['GET', 'https://a.test/', ['odd']], null, false], [c, 'eval', '', req, null, false], [c, 'put', '', req, [700, '', [], null], false], [c, 'put', '', req, [200, '', [], 'text'], false]]) {
      expect(runCacheOp(...(bad as Parameters<typeof runCacheOp>))).toEqual({ ok: false, message: 'malformed cache call' });
    }
    const frame = new Uint8Array([0, 104, 105, 0]);
    expect(runCacheOp(c, 'put', '', req, [200, 'OK', [], frame.subarray(1, 3)], false)).toEqual({ ok: true, value: null });
    frame.fill(0);
    const hit = runCacheOp(c, 'match', '', req, null, false);
    expect(hit.ok && Array.isArray(hit.value) && new TextDecoder().decode(hit.value[3]!)).toBe('hi');
    expect(runCacheOp(undefined, 'match', '', req, null, false)).toMatchObject({ ok: false });
  });
});

describe('HTTP-date', () => {
  it('reads the three forms RFC 9110 allows, and nothing else', async () => {
    const { parseHttpDate } = await import('./http-date.ts');
    const at = Date.UTC(1994, 10, 6, 8, 49, 37);
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(at);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(at);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(at);
    for (const bad of ['2020', '1994-11-06T08:49:37Z', 'Sun, 06 Nov 1994 08:49:37 PST', 'Sun, 32 Nov 1994 08:49:37 GMT', '']) expect(parseHttpDate(bad), bad).toBeNaN();
  });
});
