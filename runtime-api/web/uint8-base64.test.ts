// Uint8Array to and from base64 and hex, as ES2026 has them, installed where V8 lacks them (Node
// 24's does, so these run the runtime's own), and what a tenant's isolate gets.
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/index.ts';
import { installUint8ArrayBase64 } from './uint8-base64.ts';

interface Base64Array extends Uint8Array {
  toBase64(options?: unknown): string;
  toHex(): string;
  setFromBase64(string: unknown, options?: unknown): { read: number; written: number };
  setFromHex(string: unknown): { read: number; written: number };
}
interface Base64Statics {
  fromBase64(string: unknown, options?: unknown): Uint8Array;
  fromHex(string: unknown): Uint8Array;
}
const U8 = Uint8Array as unknown as Base64Statics;
const bytes = (...values: number[]) => new Uint8Array(values) as Base64Array;
const text = (s: string) => new TextEncoder().encode(s) as Base64Array;
const list = (a: Uint8Array) => [...a];

beforeAll(() => installUint8ArrayBase64());

describe('Uint8Array base64 and hex', () => {
  it('encodes RFC 4648 test vectors, padded or not, in either alphabet', () => {
    const vectors = [['', ''], ['f', 'Zg=='], ['fo', 'Zm8='], ['foo', 'Zm9v'], ['foob', 'Zm9vYg=='], ['fooba', 'Zm9vYmE='], ['foobar', 'Zm9vYmFy']];
    for (const [plain, encoded] of vectors) {
      expect(text(plain!).toBase64()).toBe(encoded);
      expect(text(plain!).toBase64({ omitPadding: true })).toBe(encoded!.replace(/=+$/, ''));
      expect(new TextDecoder().decode(U8.fromBase64(encoded))).toBe(plain);
    }
    expect(bytes(251, 255).toBase64()).toBe('+/8=');
    expect(bytes(251, 255).toBase64({ alphabet: 'base64url' })).toBe('-_8=');
    expect(list(U8.fromBase64('-_8', { alphabet: 'base64url' }))).toEqual([251, 255]);
    expect(bytes(0, 15, 16, 255).toHex()).toBe('000f10ff');
    expect(list(U8.fromHex('000F10fF'))).toEqual([0, 15, 16, 255]);
    // A view encodes what it views, not its whole buffer.
    expect((new Uint8Array([1, 2, 3, 4]).subarray(1, 3) as Base64Array).toHex()).toBe('0203');
  });

  it('decodes the last chunk as lastChunkHandling says, skipping ASCII whitespace', () => {
    expect(list(U8.fromBase64(' Zm 9v\nYg '))).toEqual([102, 111, 111, 98]);
    expect(list(U8.fromBase64('Zm9vYg'))).toEqual([102, 111, 111, 98]);
    expect(() => U8.fromBase64('Zm9vYg', { lastChunkHandling: 'strict' })).toThrow(SyntaxError);
    expect(list(U8.fromBase64('Zm9vYg', { lastChunkHandling: 'stop-before-partial' }))).toEqual([102, 111, 111]);
    // A partial last chunk, padded or not, is left unread, not an error (test262's cases; V8
    // 13.6's unfinished --js-base-64 throws for some).
    for (const [input, expected] of [['A', []], ['+\t', []], ['ABCDA', [0, 16, 131]], ['AA=', []], ['aQ=', []], ['ABCDAA=', [0, 16, 131]]] as const) {
      expect(list(U8.fromBase64(input, { lastChunkHandling: 'stop-before-partial' })), input).toEqual(expected);
    }
    // Bits set past the last byte: loose ignores them, strict refuses.
    expect(list(U8.fromBase64('Zh=='))).toEqual([102]);
    expect(() => U8.fromBase64('Zh==', { lastChunkHandling: 'strict' })).toThrow(SyntaxError);
    for (const bad of ['Z', 'Zm9=v', 'Zm9v=', 'Zm=9', '*m9v', 'Zm9v Zg=', 'Zg=']) expect(() => U8.fromBase64(bad), bad).toThrow(SyntaxError);
    expect(() => U8.fromBase64('-_8=')).toThrow(SyntaxError);
    expect(() => U8.fromBase64('+/8=', { alphabet: 'base64url' })).toThrow(SyntaxError);
    for (const bad of ['a', 'zz', '0g', 'é0']) expect(() => U8.fromHex(bad), bad).toThrow(SyntaxError);
  });

  it('refuses what is not a string, a Uint8Array or a known option with a TypeError', () => {
    expect(() => U8.fromBase64(1)).toThrow(TypeError);
    expect(() => U8.fromHex(new String('00'))).toThrow(TypeError);
    expect(() => U8.fromBase64('', { alphabet: 'hex' })).toThrow(TypeError);
    expect(() => U8.fromBase64('', { lastChunkHandling: 'lenient' })).toThrow(TypeError);
    expect(() => U8.fromBase64('', 'base64')).toThrow(TypeError);
    const toBase64 = (Uint8Array.prototype as Base64Array).toBase64;
    expect(() => toBase64.call(new Uint16Array(2))).toThrow(TypeError);
    expect(() => toBase64.call({ length: 0, buffer: new ArrayBuffer(0) })).toThrow(TypeError);
    const buffer = new ArrayBuffer(4);
    const detached = new Uint8Array(buffer) as Base64Array;
    buffer.transfer();
    expect(() => detached.toHex()).toThrow(TypeError);
    // Built-ins' shape: not constructors, not enumerable, their spec lengths.
    expect(() => new (U8.fromHex as unknown as new (s: string) => unknown)('00')).toThrow(TypeError);
    expect(Object.keys(Uint8Array)).not.toContain('fromBase64');
    expect([U8.fromBase64.length, U8.fromHex.length, toBase64.length, (Uint8Array.prototype as Base64Array).setFromBase64.length]).toEqual([1, 1, 0, 1]);
  });

  it('setFromBase64 and setFromHex fill what fits, say what they read and wrote, and keep the bytes decoded before an error', () => {
    const into = new Uint8Array(4) as Base64Array;
    expect(into.setFromBase64('Zm9vYmFy')).toEqual({ read: 4, written: 3 });
    expect(list(into)).toEqual([102, 111, 111, 0]);
    // Room for 4 bytes: a second chunk of which only one byte would fit is not begun.
    expect((new Uint8Array(4) as Base64Array).setFromBase64('Zm9vYg==')).toEqual({ read: 8, written: 4 });
    expect((new Uint8Array(2) as Base64Array).setFromHex('aabbcc')).toEqual({ read: 4, written: 2 });
    // Past a full output, what follows is not read: trailing garbage is no error then.
    for (const input of ['aaaa#', 'aaaaa#', 'aaaaaaaa#']) expect((new Uint8Array(3) as Base64Array).setFromBase64(input), input).toEqual({ read: 4, written: 3 });
    for (const input of ['#', 'a#', 'aaa#']) expect(() => (new Uint8Array(3) as Base64Array).setFromBase64(input), input).toThrow(SyntaxError);
    const partly = new Uint8Array(6) as Base64Array;
    expect(() => partly.setFromBase64('Zm9v*')).toThrow(SyntaxError);
    expect(list(partly)).toEqual([102, 111, 111, 0, 0, 0]);
    const hexPartly = new Uint8Array(3) as Base64Array;
    expect(() => hexPartly.setFromHex('0102zz')).toThrow(SyntaxError);
    expect(list(hexPartly)).toEqual([1, 2, 0]);
  });

  it('round-trips every byte value and large inputs', () => {
    const all = Uint8Array.from({ length: 256 * 40 + 2 }, (_, i) => (i * 7) & 255) as Base64Array;
    for (const alphabet of ['base64', 'base64url']) {
      expect(list(U8.fromBase64(all.toBase64({ alphabet }), { alphabet }))).toEqual(list(all));
    }
    expect(all.toBase64()).toBe(Buffer.from(all).toString('base64'));
    expect(list(U8.fromHex(all.toHex()))).toEqual(list(all));
  });
});

describe('in a tenant\'s isolate', () => {
  it('are there, as in workerd: JWT-style code that uses them runs', async () => {
    const engine = new Engine();
    try {
      await engine.deploy('b64', {
        code: `export default { fetch() {
          const token = new TextEncoder().encode('{"sub":"1"}').toBase64({ alphabet: 'base64url', omitPadding: true });
          const back = new TextDecoder().decode(Uint8Array.fromBase64(token, { alphabet: 'base64url' }));
          return Response.json({ token, back, hex: new Uint8Array([104, 105]).toHex(), own: Object.keys(Uint8Array.prototype) });
        } }`,
      });
      const res = await engine.fetch('b64', new Request('http://b64.test/'));
      expect(await res.json()).toEqual({ token: 'eyJzdWIiOiIxIn0', back: '{"sub":"1"}', hex: '6869', own: [] });
    } finally {
      await engine.close();
    }
  });
});
