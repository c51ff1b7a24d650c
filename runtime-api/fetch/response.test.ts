import { describe, expect, it } from 'vitest';
import { Response, responseFromNetwork, responseToWire } from './response.ts';

function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (error) {
    return `throws ${(error as Error).name}`;
  }
}

function describeResponse(r: Response | globalThis.Response): unknown {
  return {
    type: r.type,
    url: r.url,
    redirected: r.redirected,
    status: r.status,
    ok: r.ok,
    statusText: r.statusText,
    headers: [...r.headers],
    bodyUsed: r.bodyUsed,
  };
}

describe('Response', () => {
  it('constructs like Node', () => {
    const cases: [unknown?, unknown?][] = [
      [],
      [null],
      [undefined, { status: 201 }],
      ['text'],
      [null, { status: 204 }],
      [null, { status: 101 }],
      ['x', { status: 304 }],
      ['x', { status: 205 }],
      [null, { status: 199 }],
      [null, { status: 600 }],
      [null, { status: 65736 }],
      [null, { status: 299.9 }],
      [null, { status: '404' }],
      [null, { status: NaN }],
      [null, { statusText: 'Not Found' }],
      [null, { statusText: 'tab\there é' }],
      [null, { statusText: 'new\nline' }],
      [null, { statusText: '\u0100' }],
      [null, { statusText: '\x7f' }],
      ['x', { headers: { 'Content-Type': 'text/html', 'X-A': ' 1 ' } }],
      ['x', { headers: [['set-cookie', 'a'], ['set-cookie', 'b']] }],
      ['x', { headers: { 'bad name': 'x' } }],
      ['x', 5],
      [{}, {}],
    ];
    for (const [i, args] of cases.entries()) {
      const ours = outcome(() => describeResponse(new Response(...(args as []))));
      const node = outcome(() => describeResponse(new globalThis.Response(...(args as []))));
      expect(ours, `case ${i}`).toEqual(node);
    }
  });

  it('takes an empty body with a null body status as no body, as workerd does (Fetch and Node throw)', () => {
    for (const [body, status] of [['', 204], [new Uint8Array(0), 304], [new ArrayBuffer(0), 205]] as const) {
      const r = new Response(body, { status });
      expect([r.status, r.body, r.headers.get('content-type')]).toEqual([status, null, null]);
    }
    expect(() => new Response(' ', { status: 204 })).toThrow(TypeError);
  });

  it('has the URL it was fetched from, without its fragment (Fetch: "exclude fragment")', () => {
    const response = responseFromNetwork(200, 'OK', [], null, ['https://a.test/first#one', 'https://a.test/x?q=1#frag']);
    expect([response.url, response.redirected]).toEqual(['https://a.test/x?q=1', true]);
  });

  it('converts status as a WebIDL unsigned short (modulo 2^16)', () => {
    // Node's undici throws a RangeError for this one.
    expect(new Response(null, { status: -65336 }).status).toBe(200);
    expect(new Response(null, { status: 65536 + 404.7 }).status).toBe(404);
    expect(() => new Response(null, { status: Infinity })).toThrow(RangeError);
  });

  it('has Response.json, redirect and error like Node', () => {
    const cases: [string, unknown[]][] = [
      ['json', [{ a: [1, 'é'] }]],
      ['json', ['plain']],
      ['json', [null, { status: 201, headers: { 'x-a': '1' } }]],
      ['json', [{}, { headers: { 'content-type': 'application/vnd+json' } }]],
      ['json', [undefined]],
      ['json', [() => {}]],
      ['json', [1n]],
      ['json', [{}, { status: 204 }]],
      ['json', [{}, { status: 100 }]],
      ['redirect', ['https://example.com/next']],
      ['redirect', ['https://example.com/next', 301]],
      ['redirect', ['https://example.com/next', 308]],
      ['redirect', ['https://example.com/next', 200]],
      ['redirect', ['https://example.com/next', 304]],
      ['redirect', ['/relative']],
      ['redirect', ['https://exa mple.com/']],
      ['redirect', ['https://example.com/ä?q=ü']],
      ['error', []],
    ];
    for (const [name, args] of cases) {
      const call = (R: typeof Response | typeof globalThis.Response) => (R as unknown as Record<string, (...a: unknown[]) => Response>)[name]!(...args);
      expect(outcome(() => describeResponse(call(Response))), `${name}(${args.length})`).toEqual(outcome(() => describeResponse(call(globalThis.Response))));
    }
    expect(() => (Response.json as () => Response)()).toThrow(TypeError);
    expect(() => (Response.redirect as () => Response)()).toThrow(TypeError);
  });

  it('reads back what it was given', async () => {
    expect(await Response.json({ a: 1 }).json()).toEqual({ a: 1 });
    expect(await Response.json('\ud800').text()).toBe('"\\ud800"');
    const redirect = Response.redirect('https://example.com/x');
    expect(() => redirect.headers.set('location', '/y')).toThrow(TypeError);
    const error = Response.error();
    expect(() => error.headers.append('a', 'b')).toThrow(TypeError);
    expect(await error.text()).toBe('');
  });

  it('clones with an independent body and the same guard', async () => {
    const r = new Response('body', { status: 201, statusText: 'Created', headers: { a: '1' } });
    const c = r.clone();
    expect(describeResponse(c)).toEqual(describeResponse(r));
    expect(await r.text()).toBe('body');
    expect(await c.text()).toBe('body');
    expect(() => r.clone()).toThrow(TypeError);
    const e = Response.error().clone();
    expect([e.type, e.status]).toEqual(['error', 0]);
    expect(() => e.headers.set('a', 'b')).toThrow(TypeError);
  });

  it('goes to the wire with the string body as given', () => {
    const text = 'hello '.repeat(20);
    const r = new Response(text, { headers: [['set-cookie', 'a=1'], ['X-B', '2'], ['set-cookie', 'c=3']] });
    const [status, headers, body] = responseToWire(r);
    expect(status).toBe(200);
    expect(headers).toEqual(['set-cookie', 'a=1', 'x-b', '2', 'set-cookie', 'c=3', 'content-type', 'text/plain;charset=UTF-8']);
    expect(body).toBe(text);
    expect(r.bodyUsed).toBe(true);
    expect(() => responseToWire(r)).toThrow(TypeError);
    const [, , bytes] = responseToWire(new Response(new Uint8Array([7, 8])));
    expect([...new Uint8Array(bytes as ArrayBuffer)]).toEqual([7, 8]);
    expect(responseToWire(new Response(null, { status: 204 }))).toEqual([204, [], null]);
    expect(responseToWire(Response.error())[0]).toBe(0);
  });

  it('has the WebIDL shape', () => {
    expect(Object.keys(Response).sort()).toEqual(['error', 'json', 'redirect']);
    expect(Object.prototype.toString.call(new Response())).toBe('[object Response]');
    // Node's Response as the reference, but for Workers' webSocket member.
    expect(Object.keys(Response.prototype).filter((key) => !(key in globalThis.Response.prototype))).toEqual(['webSocket']);
    expect(Response.length).toBe(0);
    expect(() => Object.getOwnPropertyDescriptor(Response.prototype, 'status')!.get!.call({})).toThrow(TypeError);
  });
});
