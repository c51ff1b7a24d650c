import { describe, expect, it } from 'vitest';
import { parseURLEncoded } from './urlencoded.ts';

describe('application/x-www-form-urlencoded parsing', () => {
  it('gives the tuples URLSearchParams gives for a string', () => {
    const inputs = ['', 'a=b', 'a=b&c=d', '&&a&=&b=', 'a=b=c', 'q=a+b%20c%2B', 'x=%zz%4', 'é=€&%C3%A9=%E2%82%AC', '%FF=%C3', 'a&a=1&a=2'];
    for (const input of inputs) {
      expect(parseURLEncoded(new TextEncoder().encode(input)), input).toEqual([...new URLSearchParams(input)]);
    }
  });

  it('runs on bytes: raw and percent-decoded bytes make UTF-8 together, and nothing is stripped', () => {
    expect(parseURLEncoded(new Uint8Array([0x61, 0x3d, 0xe2, 0x82, 0x25, 0x41, 0x43]))).toEqual([['a', '€']]);
    expect(parseURLEncoded(new TextEncoder().encode('?a=1'))).toEqual([['?a', '1']]);
    expect(parseURLEncoded(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]))).toEqual([['\ufeffa', '']]);
  });
});
