import { describe, expect, it } from 'vitest';
import { atob, btoa } from './base64.ts';
import { DOMException } from './dom-exception.ts';

function outcome(f: () => string): string {
  try {
    return f();
  } catch (error) {
    return `${(error as Error).name} ${(error as { code?: number }).code}`;
  }
}

describe('atob / btoa', () => {
  it('round-trips every byte value', () => {
    let all = '';
    for (let i = 0; i < 256; i++) all += String.fromCharCode(i);
    for (let len = 0; len < 260; len += 1) {
      const s = all.slice(0, len);
      expect(btoa(s)).toBe(globalThis.btoa(s));
      expect(atob(btoa(s))).toBe(s);
    }
    const long = all.repeat(40);
    expect(atob(btoa(long))).toBe(long);
  });

  it('decodes forgivingly, exactly as Node does', () => {
    const inputs = [
      '', 'YQ', 'YQ=', 'YQ==', 'YQ===', 'YR==', 'YWI', 'YWI=', 'YWJj', 'Y', 'YQ=x', '=YQ', 'Y=Q=', 'YQ==YQ==',
      ' Y Q\t=\n=\f', 'YW\rJj ', 'YW\vJj', 'YWJ\u00a0j', 'YWJ-', 'YWJ_', 'YQ%3D', 'é', 'YWJj\ud800', '====', 'YQ=\n=',
      'ab', 'abc', 'abcd', 'abcde', 'abcdef', 'a+/A', undefined, null, 12345678, true,
    ];
    for (const input of inputs) {
      expect(outcome(() => atob(input as string)), String(input)).toBe(outcome(() => globalThis.atob(input as string)));
    }
  });

  it('throws InvalidCharacterError DOMExceptions', () => {
    expect(() => atob('a')).toThrow(DOMException);
    expect(outcome(() => atob('a'))).toBe('InvalidCharacterError 5');
    expect(outcome(() => btoa('€'))).toBe('InvalidCharacterError 5');
    expect(outcome(() => btoa('\u00ff\u0100'))).toBe('InvalidCharacterError 5');
  });

  it('converts arguments as DOMString and requires one', () => {
    expect(btoa(undefined as never)).toBe(globalThis.btoa('undefined'));
    expect(btoa(null as never)).toBe('bnVsbA==');
    expect(btoa({ toString: () => 'x' } as never)).toBe('eA==');
    expect(() => btoa(Symbol() as never)).toThrow(TypeError);
    expect(() => (btoa as () => string)()).toThrow(TypeError);
    expect(() => (atob as () => string)()).toThrow(TypeError);
  });
});
