import { createRequire } from 'node:module';
import { domainToASCII } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { setHostCalls, type HostCalls } from '../host/host-calls.ts';
import { toASCII } from './idna.ts';

const tr46 = createRequire(import.meta.url)('tr46') as { toASCII(d: string, o: object): string | null };
// The options whatwg-url passes for the URL parser (beStrict = false).
const URL_OPTIONS = {
  checkHyphens: false, checkBidi: true, checkJoiners: true, useSTD3ASCIIRules: false,
  transitionalProcessing: false, verifyDNSLength: false, ignoreInvalidPunycode: false,
};

const asked: string[] = [];
beforeAll(() => {
  setHostCalls({
    domainToASCII: (d: string) => {
      asked.push(d);
      return domainToASCII(d) || null;
    },
  } as unknown as HostCalls);
});

describe('toASCII', () => {
  it('agrees with tr46 on ASCII domains, and answers them without asking the host', () => {
    const fixed = ['example.com', 'EXAMPLE.COM', 'a..b', '.', '', '-a-.b-', 'a_b', 'x!y$z', '0x7f.1', 'localhost', '[::1]', 'axn--b.com'];
    let seed = 7;
    const random = Array.from({ length: 2000 }, () => {
      let s = '';
      const n = (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 12;
      for (let i = 0; i < n; i++) s += String.fromCharCode(0x20 + ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 0x5f));
      return s;
    }).filter((d) => !/(?:^|\.)xn--/i.test(d));
    for (const domain of [...fixed, ...random]) {
      expect(toASCII(domain, URL_OPTIONS), JSON.stringify(domain)).toBe(tr46.toASCII(domain, URL_OPTIONS));
    }
    expect(asked).toEqual([]);
  });

  it('hands internationalized and punycode domains to the host, which agrees with tr46', () => {
    for (const domain of ['bücher.de', 'faß.DE', '💩.la', 'xn--bcher-kva.de', 'XN--fsqu00a.com', '\u200d.com']) {
      expect(toASCII(domain, URL_OPTIONS), JSON.stringify(domain)).toBe(tr46.toASCII(domain, URL_OPTIONS) || null);
    }
    expect(asked).toHaveLength(6);
  });
});
