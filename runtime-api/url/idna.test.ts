import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { toASCII } from './idna.ts';

const tr46 = createRequire(import.meta.url)('tr46') as { toASCII(d: string, o: object): string | null };
// The options whatwg-url passes for the URL parser (beStrict = false).
const URL_OPTIONS = {
  checkHyphens: false, checkBidi: true, checkJoiners: true, useSTD3ASCIIRules: false,
  transitionalProcessing: false, verifyDNSLength: false, ignoreInvalidPunycode: false,
};

describe('toASCII', () => {
  it('agrees with tr46 on ASCII domains, the shortcut included', () => {
    const fixed = ['example.com', 'EXAMPLE.COM', 'a..b', '.', '', '-a-.b-', 'a_b', 'x!y$z', '0x7f.1', 'XN--fsqu00a.com',
      'a.xn--', 'xn--pokxncvks', 'axn--b.com', 'a.XN--zz', 'localhost', '[::1]'];
    let seed = 7;
    const random = Array.from({ length: 2000 }, () => {
      let s = '';
      const n = (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 12;
      for (let i = 0; i < n; i++) s += String.fromCharCode(0x20 + ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 0x5f));
      return s;
    });
    for (const domain of [...fixed, ...random]) {
      expect(toASCII(domain, URL_OPTIONS), JSON.stringify(domain)).toBe(tr46.toASCII(domain, URL_OPTIONS));
    }
  });

  it('hands internationalized and strict domains to tr46', () => {
    expect(toASCII('bücher.de', URL_OPTIONS)).toBe('xn--bcher-kva.de');
    expect(toASCII('A_B.com', { ...URL_OPTIONS, useSTD3ASCIIRules: true })).toBe(tr46.toASCII('A_B.com', { ...URL_OPTIONS, useSTD3ASCIIRules: true }));
  });
});
