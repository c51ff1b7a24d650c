import { describe, expect, it, vi } from 'vitest';
import { encodeFrame, FrameError, FrameReader } from './protocol.ts';

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

  it('refuses an oversized frame as soon as its length prefix arrives', () => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(64 * 1024 * 1024, 0);
    const reader = new FrameReader(1024);
    expect(reader.push(prefix.subarray(0, 2))).toEqual([]);
    expect(() => reader.push(prefix.subarray(2))).toThrow(FrameError);
  });
});
