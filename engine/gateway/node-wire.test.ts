import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../errors.ts';
import { requestUrl } from './node-wire.ts';

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
});
