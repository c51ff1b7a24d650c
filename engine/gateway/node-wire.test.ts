import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BadRequestError, BodyTooLargeError, RequestTimeoutError } from '../errors.ts';
import { requestUrl, wireFromIncoming } from './node-wire.ts';

const incoming = (url: string, host?: string) => ({ url, headers: host === undefined ? {} : { host }, socket: {} }) as unknown as IncomingMessage;

describe('requestUrl', () => {
  it('gives every target the form the URL standard serializes it to', () => {
    const cases: [string, string | undefined, string][] = [
      ['/', 'hello.localhost:8787', 'http://hello.localhost:8787/'],
      ['/a/b?x=1&y=%20', 'h.example', 'http://h.example/a/b?x=1&y=%20'],
      ['/a/../b/./c', 'h.example', 'http://h.example/b/c'],
      ['/p', 'Hello.EXAMPLE:80', 'http://hello.example/p'],
      ['/q?a="b"&c={d}', 'h', 'http://h/q?a=%22b%22&c={d}'],
      ['/ä', 'h', 'http://h/%C3%A4'],
      ['http://other.example/x', 'ignored', 'http://other.example/x'],
      ['/x', undefined, 'http://localhost/x'],
      ['/x', '[::1]:8787', 'http://[::1]:8787/x'],
      ['/a?x#frag', 'h', 'http://h/a?x'],
      ['/a/../../b?x#frag', 'h', 'http://h/b?x'],
    ];
    for (const [target, host, expected] of cases) {
      const got = requestUrl(incoming(target, host));
      expect(got, `${host} ${target}`).toBe(expected);
      expect(got).toBe(new URL(got).href);
    }
  });

  it('refuses a Host that cannot be part of a URL', () => {
    expect(() => requestUrl(incoming('/', 'bad host'))).toThrow(BadRequestError);
  });

  it('takes an absolute-form target\'s host but the connection\'s scheme, and refuses credentials in it', () => {
    // On plain TCP a client cannot make the function think it came over https.
    expect(requestUrl(incoming('https://echo.example/x', 'other.example'))).toBe('http://echo.example/x');
    expect(requestUrl(incoming('https://echo.example:8443/x', 'h'))).toBe('http://echo.example:8443/x');
    const tls = { url: 'http://echo.example/x', headers: {}, socket: { encrypted: true } } as unknown as IncomingMessage;
    expect(requestUrl(tls)).toBe('https://echo.example/x');
    expect(() => requestUrl(incoming('http://user:pw@echo.example/x', 'h'))).toThrow(/credentials/);
    expect(() => requestUrl(incoming('ftp://echo.example/x', 'h'))).toThrow(BadRequestError);
    expect(() => requestUrl(incoming('*', 'h'))).toThrow(BadRequestError);
  });
});

/** A request body the test writes, with the fields wireFromIncoming reads from an IncomingMessage. */
function uploading(method: string, url: string, headers: Record<string, string>, complete: boolean) {
  const stream = Object.assign(new PassThrough(), { url, method, rawHeaders: ['host', 'h'], headers: { host: 'h', ...headers }, socket: {}, complete });
  return { stream, message: stream as unknown as IncomingMessage };
}

describe('wireFromIncoming', () => {
  it('gives the function the Host an absolute-form target names, not the Host header', () => {
    const absolute = { url: 'http://echo.example/x', method: 'GET', rawHeaders: ['Host', 'other.example', 'X-A', '1'], headers: { host: 'other.example' }, socket: {} } as unknown as IncomingMessage;
    expect(wireFromIncoming(absolute, 'echo', 1024)).toMatchObject({ url: 'http://echo.example/x', headers: ['Host', 'echo.example', 'X-A', '1'] });
    expect(absolute.rawHeaders).toEqual(['Host', 'other.example', 'X-A', '1']);
  });

  it('refuses a request with two Host headers', () => {
    const twoHosts = { url: '/', method: 'GET', rawHeaders: ['Host', 'a.example', 'host', 'b.example'], headers: { host: 'a.example' }, socket: {} } as unknown as IncomingMessage;
    expect(() => wireFromIncoming(twoHosts, 'a', 1024)).toThrow(/more than one Host/);
  });

  it('streams a chunked body, and fails it when the client goes away', async () => {
    const { stream, message } = uploading('POST', '/', { 'transfer-encoding': 'chunked' }, false);
    const wire = await wireFromIncoming(message, 'fn', 1000);
    const reader = (wire.body as ReadableStream<Uint8Array>).getReader();
    stream.write('partial');
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('partial');
    stream.destroy();
    await expect(reader.read()).rejects.toBeInstanceOf(BadRequestError);
  });

  it('counts a streamed body against the limit as it arrives', async () => {
    const { stream, message } = uploading('POST', '/', { 'transfer-encoding': 'chunked' }, false);
    const wire = await wireFromIncoming(message, 'fn', 10);
    const reader = (wire.body as ReadableStream<Uint8Array>).getReader();
    stream.write('12345');
    await reader.read();
    stream.write('678901');
    await expect(reader.read()).rejects.toBeInstanceOf(BodyTooLargeError);
  });

  it('gives a body read whole until the function\'s wall-clock limit, then answers 408', async () => {
    const { stream, message } = uploading('POST', '/', { 'content-length': '100' }, false);
    const pending = wireFromIncoming(message, 'fn', 1000, 100);
    stream.write('a trickle');
    await expect(pending).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(new RequestTimeoutError('fn', 100).status).toBe(408);
  });

  it('reads a whole body', async () => {
    const { stream, message } = uploading('PUT', '/p', { 'content-length': '5' }, true);
    const pending = wireFromIncoming(message, 'fn', 1000);
    stream.end('hello');
    const wire = await pending;
    expect([wire.method, wire.url, new TextDecoder().decode(wire.body as ArrayBuffer)]).toEqual(['PUT', 'http://h/p', 'hello']);
  });
});
