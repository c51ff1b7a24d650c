import { describe, expect, it } from 'vitest';
import { URL, URLSearchParams } from 'whatwg-url';
import { Headers, ReadableStream, Request, Response, responseHasStreamBody } from '../web/index.ts';
import { formatLogArgs } from './inspect.ts';

describe('console formatting', () => {
  it('shows what Web API objects hold, as Node and workerd do, not an empty {}', () => {
    expect(formatLogArgs([new Headers({ 'Content-Type': 'text/plain', 'x-a': '1' })])).toBe("Headers(2) { \"content-type\" => \"text/plain\", \"x-a\" => \"1\" }");
    expect(formatLogArgs([new URLSearchParams('a=1&b=2')])).toBe('URLSearchParams(2) { "a" => "1", "b" => "2" }');
    const url = formatLogArgs([new URL('https://example.com:8443/p?q=1#h')]);
    expect(url).toMatch(/^URL \{ href: "https:\/\/example\.com:8443\/p\?q=1#h", origin: "https:\/\/example\.com:8443", .*pathname: "\/p"/);
    const response = formatLogArgs([new Response('x', { status: 201 })]);
    expect(response).toMatch(/^Response \{ .*status: 201/);
    expect(response).toContain('headers: Headers(1) { "content-type" => "text/plain;charset=UTF-8" }');
    expect(formatLogArgs([new Request('https://a.test/x', { method: 'POST' })])).toMatch(/^Request \{ method: "POST", url: "https:\/\/a\.test\/x"/);
    expect(formatLogArgs([new ReadableStream()])).toBe('ReadableStream { locked: false }');
  });

  it('does not make what is made on first read (a body stream, a signal) by logging it', () => {
    const response = new Response('x');
    expect(formatLogArgs([response])).not.toContain('body:');
    expect(responseHasStreamBody(response)).toBe(false);
  });

  it('shows an error\'s cause and own properties after its stack, as Node and workerd do', () => {
    const err = Object.assign(new Error('query failed', { cause: new TypeError('socket closed') }), { status: 503 });
    err.stack = 'Error: query failed\n    at f (a.ts:1:1)';
    (err.cause as Error).stack = 'TypeError: socket closed\n    at g (b.ts:2:2)';
    expect(formatLogArgs([err])).toBe('Error: query failed\n    at f (a.ts:1:1) { status: 503, [cause]: TypeError: socket closed\n    at g (b.ts:2:2) }');
    const plain = new Error('plain');
    expect(formatLogArgs([plain])).toBe(plain.stack);
    // A cause that is its own error is shown once.
    const loop = new Error('loop');
    loop.cause = loop;
    expect(formatLogArgs([loop])).toBe(`${loop.stack} { cause: [Circular] }`);
  });

  it('leaves other objects as they were', () => {
    class Plain { get hidden() { return 1; } }
    expect(formatLogArgs([new Plain()])).toBe('Plain {}');
    expect(formatLogArgs([{ a: 1 }])).toBe('{ a: 1 }');
  });
});
