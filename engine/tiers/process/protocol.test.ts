import { describe, expect, it } from 'vitest';
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
});
