// The host side of digests: data an isolate sent, hashed in pieces small enough for the event loop.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DIGEST_PIECE_BYTES, Digests } from './digests.ts';

const hex = (b: ArrayBuffer | null) => Buffer.from(b!).toString('hex');

describe('Digests', () => {
  it('hashes one piece at once, or many into a hash kept between calls', () => {
    const digests = new Digests();
    const piece = new Uint8Array([1, 2, 3]).buffer;
    expect(hex(digests.update('sha256', piece, 0, true))).toBe(createHash('sha256').update(new Uint8Array(piece)).digest('hex'));
    expect(digests.update('sha1', piece, 7, false)).toBeNull();
    expect(digests.update('sha1', piece, 7, false)).toBeNull();
    expect(hex(digests.update('sha1', new ArrayBuffer(0), 7, true))).toBe(createHash('sha1').update(Buffer.from([1, 2, 3, 1, 2, 3])).digest('hex'));
    // The stream was forgotten at its end: the same number starts a new hash.
    expect(hex(digests.update('sha1', piece, 7, true))).toBe(createHash('sha1').update(new Uint8Array(piece)).digest('hex'));
  });

  it('refuses what no runtime sends: a piece past the loop\'s share, odd algorithms and data', () => {
    const digests = new Digests();
    expect(() => digests.update('sha256', new ArrayBuffer(DIGEST_PIECE_BYTES + 1), 0, true)).toThrow(/in one piece/);
    expect(() => digests.update('whirlpool', new ArrayBuffer(1), 0, true)).toThrow(TypeError);
    expect(() => digests.update('sha256', new Uint8Array(1), 0, true)).toThrow(TypeError);
    expect(() => digests.update('sha256', new ArrayBuffer(1), 1.5, true)).toThrow(TypeError);
  });

  it('lets the oldest open hash go past 1,024 (streams a handler left behind), and fails its next write', () => {
    const digests = new Digests();
    for (let id = 1; id <= 1_024; id++) digests.update('md5', new ArrayBuffer(1), id, false);
    // A new one still opens: the oldest (1) is let go.
    expect(digests.update('md5', new ArrayBuffer(1), 1_025, false)).toBeNull();
    expect(() => digests.update('md5', new ArrayBuffer(1), 1, true)).toThrow(/was let go/);
    expect(digests.update('md5', new ArrayBuffer(1), 2, true)).toBeInstanceOf(ArrayBuffer);
    // One-shot digests need no place among them.
    expect(digests.update('md5', new ArrayBuffer(1), 0, true)).toBeInstanceOf(ArrayBuffer);
  });
});
