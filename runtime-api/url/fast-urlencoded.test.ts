import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { WPT_DIR } from '../conformance/wpt-runner.ts';
import { fastParseUrlencodedString, installFastUrlencoded, type UrlencodedModule } from './fast-urlencoded.ts';

// whatwg-url's own parser, untouched: this file never installs the fast path into it.
const full = (createRequire(import.meta.url)('whatwg-url/lib/urlencoded.js') as UrlencodedModule).parseUrlencodedString;

/** Asserts the fast path either declines `input` or gives exactly the full parser's pairs; true when it parsed. */
function agrees(input: string): boolean {
  const fast = fastParseUrlencodedString(input);
  if (fast === null) return false;
  expect(fast, JSON.stringify(input)).toStrictEqual(full(input));
  return true;
}

describe('fastParseUrlencodedString', () => {
  it('parses queries without escapes into the full parser\'s pairs', () => {
    const plain = ['', 'a=1', 'a=1&b=2', 'q=hello+world&x', '&&a=&=b&', 'a=b=c', '+=+', 'k=caf\u00e9&emoji=\u{1F600}', '\ufeffbom=1', 'a=1&a=2'];
    for (const input of plain) expect(agrees(input), input).toBe(true);
    expect(fastParseUrlencodedString('q=hello+world&x&=v')).toStrictEqual([['q', 'hello world'], ['x', ''], ['', 'v']]);
  });

  it('leaves escapes and lone surrogates to the full parser', () => {
    for (const input of ['a=%20', 'a%3Db', '%', 'a=\ud800', '\udc00=b']) expect(fastParseUrlencodedString(input), input).toBeNull();
  });

  it('agrees with the full parser on generated inputs', () => {
    const pieces = ['a', 'B', '=', '&', '+', ' ', '%', '%2B', '%zz', '\u00e9', '\u{1F600}', '\ud800', '\ufeff', '?', '#', ';', '=='];
    let seed = 99;
    const pick = () => pieces[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % pieces.length]!;
    let parsed = 0;
    for (let n = 0; n < 20_000; n++) {
      let input = '';
      const length = n % 12;
      for (let i = 0; i < length; i++) input += pick();
      if (agrees(input)) parsed++;
    }
    expect(parsed).toBeGreaterThan(2_000); // the generator reaches the fast path often
  });

  const wpt = `${WPT_DIR}url/resources/urlencoded-parser-data.json`;
  if (!existsSync(wpt)) console.warn(`WPT data not found at ${wpt}: the fast path's WPT comparison is skipped`);
  it.skipIf(!existsSync(wpt))('agrees with the full parser on the Web Platform Tests urlencoded inputs', () => {
    const cases = (JSON.parse(readFileSync(wpt, 'utf8')) as unknown[]).filter((c): c is { input: string } => typeof c === 'object' && c !== null && 'input' in c);
    let parsed = 0;
    for (const c of cases) if (agrees(c.input)) parsed++;
    expect(parsed).toBeGreaterThan(5);
  });
});

describe('installFastUrlencoded', () => {
  it('answers plain queries itself and passes the rest on', () => {
    const calls: string[] = [];
    const module: UrlencodedModule = { parseUrlencodedString: (input) => (calls.push(input), []) };
    installFastUrlencoded(module);
    expect(module.parseUrlencodedString('a=1+2')).toStrictEqual([['a', '1 2']]);
    module.parseUrlencodedString('a=%31');
    expect(calls).toEqual(['a=%31']);
  });
});
