import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { WPT_DIR } from '../conformance/wpt-runner.ts';
import { fastParseURL, installFastURLParse, type StateMachineModule, type URLRecord } from './fast-parse.ts';

// whatwg-url's own parser, untouched: this file never installs the fast path into it.
const full = (createRequire(import.meta.url)('whatwg-url/lib/url-state-machine.js') as StateMachineModule).basicURLParse;

/** Asserts the fast path either declines `input` or gives exactly the full parser's record; true when it parsed. */
function agrees(input: string, base?: string): boolean {
  const fast = fastParseURL(input);
  if (fast === null) return false;
  const baseURL = base === undefined ? null : full(base);
  expect(fast, JSON.stringify([input, base])).toStrictEqual(full(input, { baseURL }));
  return true;
}

describe('fastParseURL', () => {
  it('parses the URLs requests arrive with into the full parser\'s records', () => {
    const common = [
      'http://example.com/', 'https://example.com', 'http://fn0.localhost:8787/a/b?x=1&y=2#top',
      'https://api.example.co.uk:8443/v1/users/42?fields=name,email&sort=-created', 'http://a/b/c/',
      'http://EXAMPLE.com/Path/To?Q=V', 'https://example.com:443/default-port', 'http://example.com:0080/',
      'http://example.com:/empty-port', 'https://x.y/%7Euser/file%20name.txt', 'http://h/?', 'http://h/#',
      'http://h/?a=b?c#d#e', 'http://h/.well-known/x', 'http://h/a..b/...', 'http://h/a|b@c:d;e=f!$&()*+,',
      'https://h/search?q=a\\b^c`d{e}f|g', "http://h/#frag'ment{}^|\\", 'http://h?q', 'http://h#f',
      'http://a-b.c-d/', 'http://localhost:65535/', 'http://h/%2/%zz/%',
    ];
    for (const input of common) expect(agrees(input), input).toBe(true);
    expect(fastParseURL('http://fn0.localhost:8787/a/b?x=1#top')).toStrictEqual({
      scheme: 'http', username: '', password: '', host: 'fn0.localhost', port: 8787, path: ['a', 'b'], query: 'x=1', fragment: 'top',
    });
  });

  it('leaves every other shape to the full parser', () => {
    const declined = [
      'HTTP://example.com/', ' http://example.com/', 'http://example.com/ ', 'http://exa\tmple.com/', 'http://exa mple.com/',
      'http://user:pass@example.com/', 'http://@example.com/', 'http://[::1]/', 'http://127.0.0.1/', 'http://example.0x1/',
      'http://a.b.1/', 'http://xn--nxasmq6b.com/', 'http://a.XN--b/', 'http://example.com./', 'http://a..b/', 'http:///x',
      'http:/example.com/', 'http:\\\\example.com\\', 'http://example.com\\x', 'http://example.com:65536/', 'http://h:8a/',
      'http://h/./a', 'http://h/a/../b', 'http://h/%2e/', 'http://h/a/%2E%2e', 'http://h/.%2e/', 'http://h/a b',
      'http://h/a"b', 'http://h/a{b}', 'http://h/a^b', 'http://h/?a\'b', 'http://h/#a`b', 'http://h/é', 'http://h/\u{1F600}',
      'http://h_i/', 'http://h%41/', 'ftp://example.com/', 'ws://example.com/', 'file:///etc/passwd', 'blob:http://x/y',
      'http://h/\x7f', 'https://', 'http:', '', '/relative',
    ];
    for (const input of declined) expect(fastParseURL(input), input).toBeNull();
  });

  it('agrees with the full parser on generated inputs', () => {
    // Pieces that sit near every rule above, joined at random (a fixed seed, so a failure repeats);
    // the plain ones weigh more, so that many inputs reach the fast path and its edges.
    const mix = (plain: string[], tricky: string[]) => [...plain, ...plain, ...plain, ...plain, ...tricky];
    const schemes = mix(['http://', 'https://'], ['HTTP://', 'http:/', 'http:\\\\', 'ws://', '']);
    const hosts = mix(['a', 'example.com', 'A.B', 'a-b', 'x.09a'], ['1.2.3.4', 'a.1', 'a.0x1f', '0', 'xn--a.b', 'a.xn--', 'a..b', 'a.', '.a', '[::1]', 'u@h', 'u:p@h', 'h_', '%61', '', '\u00e9.com', 'a b']);
    const ports = mix(['', ':8080'], [':', ':80', ':443', ':0', ':08080', ':65535', ':65536', ':99999999', ':8a', ':-1']);
    const segments = mix(['', 'a', 'A', '...', '.a', 'a.', '%', '%zz', '%20', '~', ';', '@', ':', "'", '|'], ['.', '..', '%2e', '%2E.', '.%2E', '%2e%2e', 'a b', 'a"b', '<', '`', '{', '^', '\\', '\t', '\u00e9', '\x7f']);
    const queries = mix(['', '?', '?a=b', '?a=b&c', '?\\', '?`{}^|', '??'], ["?'", '?"', '?a b', '?<>', '?\u00e9']);
    const fragments = mix(['', '#', '#a', '#a#b', "#'", '#\\'], ['#`', '#"', '# x', '#\u00e9']);
    let seed = 12345;
    const pick = <T>(list: T[]): T => list[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % list.length]!;
    let parsed = 0;
    const total = 20_000;
    for (let n = 0; n < total; n++) {
      let path = '';
      const depth = pick([0, 1, 1, 2, 3]);
      for (let d = 0; d < depth; d++) path += pick(['/', '/', '/', '\\']) + pick(segments);
      const input = pick(schemes) + pick(hosts) + pick(ports) + path + pick(queries) + pick(fragments);
      if (agrees(input)) parsed++;
      if (n % 4 === 0 && agrees(input, 'https://base.example/dir/file?q#f')) parsed++;
    }
    // The generator must reach the fast path often, or this test proves nothing.
    expect(parsed).toBeGreaterThan(total / 10);
  });

  const wpt = `${WPT_DIR}url/resources/urltestdata.json`;
  if (!existsSync(wpt)) console.warn(`WPT data not found at ${wpt}: the fast path's WPT comparison is skipped`);
  it.skipIf(!existsSync(wpt))('agrees with the full parser on every Web Platform Tests URL input', () => {
    const cases = (JSON.parse(readFileSync(wpt, 'utf8')) as unknown[]).filter((c): c is { input: string; base: string | null } => typeof c === 'object');
    let parsed = 0;
    for (const c of cases) {
      if (c.base !== null && full(c.base) === null) continue; // an invalid base fails before the input is parsed
      if (agrees(c.input, c.base ?? undefined)) parsed++;
    }
    expect(parsed).toBeGreaterThan(10);
  });
});

describe('installFastURLParse', () => {
  it('answers plain parses itself and passes setters\' overrides and unusual inputs on', () => {
    const calls: string[] = [];
    const usm: StateMachineModule = { basicURLParse: (input) => (calls.push(input), null) };
    installFastURLParse(usm);
    expect(usm.basicURLParse('http://example.com/a')).toStrictEqual(full('http://example.com/a'));
    expect(usm.basicURLParse('http://example.com/a', { baseURL: full('http://other/') })).toStrictEqual(full('http://example.com/a'));
    expect(calls).toEqual([]);
    usm.basicURLParse('http://example.com/a', { stateOverride: 'path start', url: full('http://x/')! });
    usm.basicURLParse('/relative', { baseURL: full('http://other/') });
    expect(calls).toEqual(['http://example.com/a', '/relative']);
  });
});
