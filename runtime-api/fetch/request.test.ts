import { describe, expect, it } from 'vitest';
import { headersToFlat } from './headers.ts';
import { Request, requestFromWire } from './request.ts';
import { AbortController, AbortSignal } from '../web/abort.ts';

function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (error) {
    return `throws ${(error as Error).name}`;
  }
}

function describeRequest(r: Request | globalThis.Request): unknown {
  return {
    method: r.method,
    url: r.url,
    headers: [...r.headers],
    mode: r.mode,
    credentials: r.credentials,
    cache: r.cache,
    redirect: r.redirect,
    integrity: r.integrity,
    keepalive: r.keepalive,
    signal: [Object.prototype.toString.call(r.signal), r.signal.aborted],
    bodyUsed: r.bodyUsed,
  };
}

describe('Request', () => {
  it('constructs like Node from strings and init dictionaries', () => {
    const cases: [unknown, unknown?][] = [
      ['https://example.com/a?b#c'],
      ['HTTPS://EXAMPLE.com:443/./x/../y'],
      [new URL('https://example.com/from-url')],
      ['/relative'],
      ['not a url'],
      ['https://user:pass@example.com/'],
      ['https://user@example.com/'],
      ['https://example.com', 5],
      ['https://example.com', null],
      ['https://example.com', { method: 'post' }],
      ['https://example.com', { method: 'delete' }],
      ['https://example.com', { method: 'OpTiOnS' }],
      ['https://example.com', { method: 'bad method' }],
      ['https://example.com', { method: '' }],
      ['https://example.com', { method: 'connect' }],
      ['https://example.com', { method: 'TRACE' }],
      ['https://example.com', { method: 'track' }],
      ['https://example.com', { method: 'GET', body: 'x' }],
      ['https://example.com', { method: 'head', body: new Uint8Array(1) }],
      ['https://example.com', { body: 'x' }],
      ['https://example.com', { method: 'GET', body: null }],
      ['https://example.com', { method: 'POST', body: 'x' }],
      ['https://example.com', { method: 'POST', body: 'x', headers: { 'Content-Type': 'text/html' } }],
      ['https://example.com', { method: 'POST', body: new ArrayBuffer(2) }],
      ['https://example.com', { headers: [['a', '1'], ['a', '2']] }],
      ['https://example.com', { headers: { 'bad header': 'x' } }],
      ['https://example.com', { redirect: 'manual', cache: 'no-store', credentials: 'include', mode: 'same-origin' }],
      ['https://example.com', { redirect: 'bogus' }],
      ['https://example.com', { mode: 'navigate' }],
      ['https://example.com', { mode: 'no-cors', method: 'PUT' }],
      ['https://example.com', { mode: 'no-cors', method: 'POST' }],
      ['https://example.com', { cache: 'only-if-cached' }],
      ['https://example.com', { cache: 'only-if-cached', mode: 'same-origin' }],
      ['https://example.com', { window: {} }],
      ['https://example.com', { window: null }],
      ['https://example.com', { integrity: 'sha256-abc', keepalive: 1 }],
      ['https://example.com', { signal: null }],
      ['https://example.com', { signal: {} }],
    ];
    for (const [i, [input, init]] of cases.entries()) {
      const ours = outcome(() => describeRequest(new Request(input as string, init as never)));
      const node = outcome(() => describeRequest(new globalThis.Request(input as string, init as never)));
      expect(ours, `case ${i}`).toEqual(node);
    }
    expect(() => (Request as unknown as () => Request)()).toThrow(TypeError);
    expect(() => new (Request as unknown as new () => Request)()).toThrow(TypeError);
  });

  it('upper-cases every method workerd knows, not only Fetch\'s six; others stay as written', () => {
    // Node (Fetch) keeps "Patch"; workerd, whose code compares request.method === 'PATCH', does not.
    const methods = ['Patch', 'purge', 'propfind', 'mkcol', 'm-search', 'query', 'delete', 'frobnicate', 'Foo'];
    expect(methods.map((method) => new Request('https://example.com/', { method }).method))
      .toEqual(['PATCH', 'PURGE', 'PROPFIND', 'MKCOL', 'M-SEARCH', 'QUERY', 'DELETE', 'frobnicate', 'Foo']);
  });

  it('copies a Request input, its headers replaced by init headers', async () => {
    const input = new Request('https://example.com/', { method: 'PUT', headers: { a: '1' }, body: 'payload', redirect: 'error' });
    const same = new Request(input);
    expect(describeRequest(same)).toEqual({ ...(describeRequest(input) as object), bodyUsed: false });
    // The body moved: the input is now disturbed, the copy reads it.
    expect(input.bodyUsed).toBe(true);
    expect(await same.text()).toBe('payload');
    expect(() => new Request(input)).toThrow(TypeError);
    // With a body in init, the used input body does not matter.
    const replaced = new Request(input, { body: 'new', headers: { b: '2' } });
    expect([...replaced.headers]).toEqual([['b', '2'], ['content-type', 'text/plain;charset=UTF-8']]);
    expect(await replaced.text()).toBe('new');
    expect(() => new Request(new Request('https://example.com/', { method: 'POST', body: 'x' }), { method: 'GET' })).toThrow(TypeError);
    const source = new Request('https://example.com/', { headers: { a: '1' } });
    const headersCopy = new Request(source, { method: 'POST' });
    source.headers.set('a', 'changed');
    expect(headersCopy.headers.get('a')).toBe('1');
  });

  it('clones with an independent body', async () => {
    const r = new Request('https://example.com/', { method: 'POST', body: new Uint8Array([1, 2]) });
    const c = r.clone();
    expect(c).not.toBe(r);
    expect(c.headers).not.toBe(r.headers);
    expect([...(await r.bytes())]).toEqual([1, 2]);
    expect([...(await c.bytes())]).toEqual([1, 2]);
    expect(() => r.clone()).toThrow(TypeError);
    const none = new Request('https://example.com/');
    expect(none.clone().bodyUsed).toBe(false);
  });

  it('has a signal that follows init.signal, or the input request\'s', () => {
    const controller = new AbortController();
    const r = new Request('https://example.com/', { signal: controller.signal });
    // A dependent signal (Fetch §5.4 step 30), the same object on every read.
    expect(r.signal).not.toBe(controller.signal);
    expect(r.signal).toBe(r.signal);
    const copied = new Request(r);
    const cloned = r.clone();
    const detached = new Request(r, { signal: null });
    const fresh = new Request('https://example.com/');
    expect([r.signal.aborted, copied.signal.aborted, cloned.signal.aborted]).toEqual([false, false, false]);
    const reason = new Error('stop');
    controller.abort(reason);
    expect([r.signal.reason, copied.signal.reason, cloned.signal.reason]).toEqual([reason, reason, reason]);
    expect([detached.signal.aborted, fresh.signal.aborted]).toEqual([false, false]);
    // Read for the first time after the abort, a signal is aborted all the same.
    expect(new Request(new Request('https://example.com/', { signal: controller.signal })).signal.reason).toBe(reason);
    expect((new Request('https://example.com/', { signal: AbortSignal.abort() }).signal.reason as Error).name).toBe('AbortError');
  });

  it('keeps integrity and keepalive through copies and clones', () => {
    const r = new Request('https://example.com/', { integrity: 'sha256-x', keepalive: true });
    expect([new Request(r).integrity, r.clone().keepalive, new Request(r, { keepalive: false }).keepalive]).toEqual(['sha256-x', true, false]);
  });

  it('builds incoming requests from the wire without revalidating', async () => {
    const flat = ['Host', 'example.com', 'Content-Type', 'application/json'];
    const body = new TextEncoder().encode('{"ok":true}').buffer;
    const r = requestFromWire('POST', 'https://example.com/api?x=1', flat, body);
    // Redirect mode "manual", as workerd's: a proxy forwarding the request passes redirects on.
    expect([r.method, r.url, r.headers.get('host'), r.mode, r.redirect]).toEqual(['POST', 'https://example.com/api?x=1', 'example.com', 'cors', 'manual']);
    expect([new Request(r, { body: 'x' }).redirect, r.clone().redirect, r.signal.aborted]).toEqual(['manual', 'manual', false]);
    expect(() => r.headers.set('x', 'y')).toThrow(TypeError);
    expect(await r.json()).toEqual({ ok: true });
    expect(headersToFlat(r.headers)).toEqual(['host', 'example.com', 'content-type', 'application/json']);
    // A tenant changes headers by making a new Request.
    const changed = new Request(requestFromWire('GET', 'https://example.com/', ['a', '1'], null), { headers: { b: '2' } });
    changed.headers.set('c', '3');
    expect([...changed.headers]).toEqual([['b', '2'], ['c', '3']]);
    const copy = new Request(requestFromWire('GET', 'https://example.com/', ['a', '1'], null));
    copy.headers.set('c', '3');
    expect(copy.headers.get('c')).toBe('3');
    const clone = requestFromWire('GET', 'https://example.com/', ['a', '1'], null).clone();
    expect(() => clone.headers.set('x', 'y')).toThrow(TypeError);
  });

  it('has Workers\' cf: an empty object on an incoming request, init\'s or the input\'s otherwise', () => {
    const incoming = requestFromWire('GET', 'https://example.com/', [], null);
    expect(incoming.cf).toEqual({});
    expect(incoming.cf).toBe(incoming.cf);
    expect(new Request(incoming).cf).toBe(incoming.cf);
    expect(incoming.clone().cf).toBe(incoming.cf);
    expect(new Request('https://example.com/').cf).toBeUndefined();
    const options = { cacheTtl: 60 };
    expect(new Request(incoming, { cf: options }).cf).toBe(options);
    expect(() => new Request('https://example.com/', { cf: 5 as never })).toThrow(TypeError);
  });

  it('has the WebIDL shape', () => {
    expect(Object.prototype.toString.call(new Request('https://a/'))).toBe('[object Request]');
    const ours = Object.keys(Request.prototype);
    // Node's, plus Workers' cf.
    expect(ours.filter((key) => !(key in globalThis.Request.prototype))).toEqual(['cf']);
    expect(() => Object.getOwnPropertyDescriptor(Request.prototype, 'url')!.get!.call({})).toThrow(TypeError);
    expect(Request.length).toBe(1);
  });
});
