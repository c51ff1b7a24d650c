import { describe, expect, it } from 'vitest';
import { TextEncoder } from './text-encoder.ts';

const node = new globalThis.TextEncoder();

describe('TextEncoder', () => {
  it('encodes like Node, with lone surrogates as U+FFFD', () => {
    const e = new TextEncoder();
    expect(e.encoding).toBe('utf-8');
    expect(Object.prototype.toString.call(e)).toBe('[object TextEncoder]');
    for (const s of ['', 'abc', 'é', '€', '😀', '\ud800', '\udc00x', 'a\ud83d', '\ud83d\ude00\ud83d', 'x'.repeat(5000) + '߿ࠀ￿𐀀']) {
      expect(e.encode(s)).toEqual(node.encode(s));
    }
    expect(e.encode()).toEqual(new Uint8Array(0));
    expect(e.encode(undefined)).toEqual(new Uint8Array(0));
    expect(e.encode(null as never)).toEqual(node.encode('null'));
    expect(e.encode(123 as never)).toEqual(node.encode('123'));
    expect(() => e.encode(Symbol() as never)).toThrow(TypeError);
  });

  it('encodeInto writes only whole scalar values, like Node', () => {
    const e = new TextEncoder();
    for (const s of ['abc', 'aé€😀b', '\ud800\ud800x', '😀😀']) {
      for (let size = 0; size <= 12; size++) {
        const ours = new Uint8Array(size);
        const theirs = new Uint8Array(size);
        expect(e.encodeInto(s, ours)).toEqual(node.encodeInto(s, theirs));
        expect(ours).toEqual(theirs);
      }
    }
  });

  it('encodeInto requires a Uint8Array destination', () => {
    const e = new TextEncoder();
    expect(() => e.encodeInto('a', new Uint16Array(2) as never)).toThrow(TypeError);
    expect(() => e.encodeInto('a', new Uint8ClampedArray(2) as never)).toThrow(TypeError);
    expect(() => e.encodeInto('a', [] as never)).toThrow(TypeError);
    expect(() => (e.encodeInto as (s: string) => unknown)('a')).toThrow(TypeError);
    expect(e.encodeInto('ab', new Uint8Array(new SharedArrayBuffer(1)))).toEqual({ read: 1, written: 1 });
  });
});
