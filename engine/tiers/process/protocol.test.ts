import { describe, expect, it, vi } from 'vitest';
import { decodeStrings, encodeFrame, encodeStrings, FrameError, FrameReader } from './protocol.ts';

describe('the sandbox protocol', () => {
  it('round-trips heads and bodies, whatever the chunking', () => {
    const body = new Uint8Array([0, 1, 2, 255]);
    const bytes = Buffer.concat([encodeFrame({ t: 'req', id: 1, url: 'http://x/é' }, body), encodeFrame({ t: 'ping', id: 2 })]);
    for (const step of [1, 3, 7, bytes.length]) {
      const reader = new FrameReader(1024);
      const frames = [];
      for (let i = 0; i < bytes.length; i += step) frames.push(...reader.push(bytes.subarray(i, i + step)));
      expect(frames).toEqual([
        { head: { t: 'req', id: 1, url: 'http://x/é' }, body },
        { head: { t: 'ping', id: 2 }, body: null },
      ]);
    }
  });

  it('refuses frames over the limit and heads that are not messages', () => {
    expect(() => new FrameReader(16).push(encodeFrame({ t: 'res' }, new Uint8Array(64)))).toThrow(FrameError);
    const notAMessage = Buffer.alloc(12);
    notAMessage.writeUInt32BE(8, 0);
    notAMessage.writeUInt32BE(4, 4);
    notAMessage.write('null', 8);
    expect(() => new FrameReader(1024).push(notAMessage)).toThrow(FrameError);
  });

  it('joins a big frame\'s chunks once, when the last arrives, not on every chunk', () => {
    const body = new Uint8Array(8 * 1024 * 1024).fill(7);
    const bytes = encodeFrame({ t: 'res', id: 3 }, body);
    const concat = vi.spyOn(Buffer, 'concat');
    try {
      const reader = new FrameReader(16 * 1024 * 1024);
      const frames = [];
      for (let i = 0; i < bytes.length; i += 64 * 1024) frames.push(...reader.push(bytes.subarray(i, i + 64 * 1024)));
      expect(frames).toHaveLength(1);
      expect(Buffer.compare(frames[0]!.body!, body)).toBe(0);
      // 128 chunks; joining on each (the old way) was 127 joins of a growing buffer.
      expect(concat.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      concat.mockRestore();
    }
  });

  it("refuses a head over the reader's head limit as soon as its length is in, before the rest", () => {
    // A sandbox's forged head of 240 MB of `{},` was 80 million objects on the host's heap.
    const prefix = Buffer.alloc(8);
    prefix.writeUInt32BE(4 + 200 * 1024 * 1024, 0);
    prefix.writeUInt32BE(200 * 1024 * 1024, 4);
    const reader = new FrameReader(512 * 1024 * 1024, 1024 * 1024);
    expect(reader.push(prefix.subarray(0, 6))).toEqual([]);
    expect(() => reader.push(prefix.subarray(6))).toThrow(/frame head of 209715200 bytes refused/);
    // Within the limit, heads and big bodies pass as before.
    const ok = new FrameReader(512 * 1024 * 1024, 1024 * 1024);
    expect(ok.push(encodeFrame({ t: 'res', id: 1 }, new Uint8Array(2 * 1024 * 1024)))).toHaveLength(1);
  });

  it('carries strings as body bytes, and refuses bytes that are not that', () => {
    const texts = ['', 'a', 'héllo', '\u0000\ud83d\ude00', 'x'.repeat(70_000)];
    expect(decodeStrings(encodeStrings(texts), 10)).toEqual(texts);
    expect(decodeStrings(encodeStrings(texts), 4)).toMatch(/more strings than 4/);
    const cut = encodeStrings(['abc']).subarray(0, 9);
    expect(decodeStrings(cut, 10)).toBe('strings cut short');
    expect(decodeStrings(Buffer.concat([encodeStrings(['a']), Buffer.from([1])]), 10)).toBe('bytes after the strings');
    // A count that the bytes cannot hold is refused before an array of that size is made.
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(0xffffffff, 0);
    expect(decodeStrings(huge, 1e9)).toMatch(/more strings than 1/);
  });

  it('refuses an oversized frame as soon as its length prefix arrives', () => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(64 * 1024 * 1024, 0);
    const reader = new FrameReader(1024);
    expect(reader.push(prefix.subarray(0, 2))).toEqual([]);
    expect(() => reader.push(prefix.subarray(2))).toThrow(FrameError);
  });
});
