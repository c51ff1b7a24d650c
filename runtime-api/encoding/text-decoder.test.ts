import { describe, expect, it } from 'vitest';
import { TextDecoder } from './text-decoder.ts';

// Deterministic xorshift, so a failure reproduces.
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

// Bytes chosen to hit every branch of the UTF-8 decoder: ASCII, boundaries of
// each lead byte's range, stray continuations, truncations, BOMs.
const interesting = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xfe, 0xff, 0xbb];
const validSequences = [[0xef, 0xbb, 0xbf], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xed, 0x9f, 0xbf], [0xf4, 0x8f, 0xbf, 0xbf], [0x68, 0x69]];

function randomBytes(next: () => number, length: number): Uint8Array {
  const out: number[] = [];
  while (out.length < length) {
    const r = next();
    if (r < 0.4) out.push(...validSequences[Math.floor(next() * validSequences.length)]!);
    else if (r < 0.8) out.push(interesting[Math.floor(next() * interesting.length)]!);
    else out.push(Math.floor(next() * 256));
  }
  return Uint8Array.from(out.slice(0, length));
}

function decodeOrError(decode: () => string): string {
  try {
    return decode();
  } catch (error) {
    return `throws ${(error as Error).name}`;
  }
}

describe('TextDecoder', () => {
  it('has the Encoding standard defaults and attributes', () => {
    const d = new TextDecoder();
    expect([d.encoding, d.fatal, d.ignoreBOM]).toEqual(['utf-8', false, false]);
    expect(Object.prototype.toString.call(d)).toBe('[object TextDecoder]');
    const f = new TextDecoder(' \tUnicode-1-1-UTF-8\n', { fatal: 1, ignoreBOM: 'yes' });
    expect([f.encoding, f.fatal, f.ignoreBOM]).toEqual(['utf-8', true, true]);
    for (const label of ['utf8', 'UTF-8', 'unicode11utf8', 'unicode20utf8', 'x-unicode20utf8']) {
      expect(new TextDecoder(label).encoding).toBe('utf-8');
    }
    for (const label of ['utf-16', 'UTF-16LE', 'ucs-2', 'unicode', 'csunicode', 'unicodefeff', 'iso-10646-ucs-2']) {
      expect(new TextDecoder(label).encoding).toBe('utf-16le');
    }
  });

  it('throws RangeError for other labels and TypeError for bad arguments', () => {
    for (const label of ['latin1', 'utf-16be', 'nope', '', 'utf-8\v', null]) {
      expect(() => new TextDecoder(label as string)).toThrow(RangeError);
    }
    expect(() => new TextDecoder('utf-8', 5 as never)).toThrow(TypeError);
    expect(() => new TextDecoder().decode(null as never)).toThrow(TypeError);
    expect(() => new TextDecoder().decode('abc' as never)).toThrow(TypeError);
    expect(() => new TextDecoder().decode(new Uint8Array(1), 1 as never)).toThrow(TypeError);
  });

  it('accepts every buffer source', () => {
    const bytes = new TextEncoder().encode('xhéllo€😀y');
    const inner = bytes.subarray(1, bytes.length - 1);
    const d = new TextDecoder();
    const expected = 'héllo€😀';
    expect(d.decode(inner)).toBe(expected);
    expect(d.decode(new DataView(inner.buffer, inner.byteOffset, inner.byteLength))).toBe(expected);
    expect(d.decode(inner.slice().buffer)).toBe(expected);
    const shared = new SharedArrayBuffer(inner.length);
    new Uint8Array(shared).set(inner);
    expect(d.decode(shared)).toBe(expected);
    expect(d.decode(new Uint8Array(shared))).toBe(expected);
    expect(d.decode(new Uint16Array(Uint8Array.from([0x61, 0x62]).buffer))).toBe('ab');
    expect(d.decode()).toBe('');
    expect(() => d.decode(new ArrayBuffer(2, { maxByteLength: 4 }))).toThrow(TypeError);
    expect(() => d.decode(new Uint8Array(new ArrayBuffer(2, { maxByteLength: 4 })))).toThrow(TypeError);
    expect(() => d.decode(new SharedArrayBuffer(2, { maxByteLength: 4 }))).toThrow(TypeError);
    const detached = new ArrayBuffer(4);
    detached.transfer();
    expect(d.decode(detached)).toBe('');
  });

  it('handles the BOM per "serialize I/O queue"', () => {
    const bom = [0xef, 0xbb, 0xbf];
    expect(new TextDecoder().decode(Uint8Array.from([...bom, 0x61]))).toBe('a');
    expect(new TextDecoder().decode(Uint8Array.from([...bom, ...bom]))).toBe('\ufeff');
    expect(new TextDecoder('utf-8', { ignoreBOM: true }).decode(Uint8Array.from([...bom, 0x61]))).toBe('\ufeffa');
    const d = new TextDecoder();
    expect(d.decode(Uint8Array.from([0xef, 0xbb]), { stream: true })).toBe('');
    expect(d.decode(Uint8Array.from([0xbf, 0x62]), { stream: true })).toBe('b');
    expect(d.decode(Uint8Array.from([...bom]))).toBe('\ufeff');
    // A fresh (non-streaming) call starts a new stream, so a BOM is stripped again.
    expect(d.decode(Uint8Array.from([...bom, 0x63]))).toBe('c');
    expect(new TextDecoder('utf-16le').decode(Uint8Array.from([0xff, 0xfe, 0x61, 0x00]))).toBe('a');
  });

  it('replaces maximal subparts with one U+FFFD each', () => {
    const d = new TextDecoder();
    const cases: [number[], string][] = [
      [[0xc0, 0x80], '\ufffd\ufffd'],
      [[0xe0, 0x80, 0x80], '\ufffd\ufffd\ufffd'],
      [[0xe0, 0xa0], '\ufffd'],
      [[0xed, 0xa0, 0x80], '\ufffd\ufffd\ufffd'],
      [[0xf0, 0x9f, 0x98, 0x41], '\ufffdA'],
      [[0xf4, 0x90, 0x80, 0x80], '\ufffd\ufffd\ufffd\ufffd'],
      [[0xf5], '\ufffd'],
      [[0xe2, 0x82], '\ufffd'],
      [[0x61, 0xe2, 0x82, 0x62], 'a\ufffdb'],
    ];
    for (const [bytes, text] of cases) expect(d.decode(Uint8Array.from(bytes))).toBe(text);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from([0xe2, 0x82]))).toThrow(TypeError);
  });

  it('keeps a split sequence between streamed calls', () => {
    const d = new TextDecoder();
    const euro = [0xe2, 0x82, 0xac];
    expect(d.decode(Uint8Array.of(0x61, euro[0]!), { stream: true })).toBe('a');
    expect(d.decode(Uint8Array.of(euro[1]!), { stream: true })).toBe('');
    expect(d.decode(Uint8Array.of(euro[2]!, 0x62), { stream: true })).toBe('€b');
    expect(d.decode(Uint8Array.of(0xf0), { stream: true })).toBe('');
    expect(d.decode()).toBe('\ufffd');
  });

  it('starts afresh after a fatal error', () => {
    const d = new TextDecoder('utf-8', { fatal: true });
    expect(() => d.decode(Uint8Array.of(0xe2, 0x41), { stream: true })).toThrow(TypeError);
    // The pending 0xE2 is gone, so 0x82 is a stray continuation byte.
    expect(() => d.decode(Uint8Array.of(0x82))).toThrow(TypeError);
    expect(d.decode(Uint8Array.of(0x41))).toBe('A');
  });

  it('decodes long inputs across internal chunk boundaries', () => {
    const text = 'ascii '.repeat(3000) + 'é€😀'.repeat(2000) + 'tail'.repeat(1000);
    const bytes = new globalThis.TextEncoder().encode(text);
    expect(new TextDecoder().decode(bytes)).toBe(text);
    expect(new TextDecoder().decode(bytes.subarray(0, 18000))).toBe(text.slice(0, 18000));
  });

  for (const encoding of ['utf-8', 'utf-16le']) {
    for (const fatal of [false, true]) {
      it(`matches Node's ${encoding} decoder on random bytes (fatal: ${fatal}), whole and streamed`, () => {
        const next = random(fatal ? 7 : 11);
        for (let round = 0; round < 400; round++) {
          const bytes = randomBytes(next, Math.floor(next() * 40));
          const options = { fatal, ignoreBOM: next() < 0.3 };
          const ours = new TextDecoder(encoding, options);
          const node = new globalThis.TextDecoder(encoding, options);
          expect(decodeOrError(() => ours.decode(bytes)), `bytes ${bytes.join(',')}`).toBe(decodeOrError(() => node.decode(bytes)));
          // The same bytes in random splits must give the same text. Node is only
          // the reference with ignoreBOM: it drops a U+FEFF that follows a code
          // point completed across chunks, which "serialize I/O queue" keeps.
          const splits: number[] = [0];
          while (splits.at(-1)! < bytes.length) splits.push(Math.min(bytes.length, splits.at(-1)! + 1 + Math.floor(next() * 6)));
          const streamed = (d: { decode(b?: Uint8Array, o?: { stream: boolean }): string }) =>
            decodeOrError(() => {
              let out = '';
              for (let s = 1; s < splits.length; s++) out += d.decode(bytes.subarray(splits[s - 1], splits[s]), { stream: true });
              return out + d.decode();
            });
          const oursStreamed = streamed(new TextDecoder(encoding, options));
          const message = `bytes ${bytes.join(',')} splits ${splits.join(',')}`;
          expect(oursStreamed, message).toBe(decodeOrError(() => new TextDecoder(encoding, options).decode(bytes)));
          if (options.ignoreBOM) expect(oursStreamed, message).toBe(streamed(new globalThis.TextDecoder(encoding, options)));
        }
      });
    }
  }
});
