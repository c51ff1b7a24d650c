import { describe, expect, it } from 'vitest';
import { ReadableStream } from './streams.ts';
import { TextDecoderStream, TextEncoderStream } from './text-streams.ts';

async function through<O>(chunks: unknown[], transform: { readable: unknown; writable: unknown }): Promise<O[]> {
  const out: O[] = [];
  const source = new ReadableStream({
    pull(controller) {
      if (chunks.length === 0) controller.close();
      else controller.enqueue(chunks.shift());
    },
  });
  for await (const chunk of source.pipeThrough(transform as never) as ReadableStream<O>) out.push(chunk);
  return out;
}

describe('TextEncoderStream', () => {
  it('encodes chunks, joining a surrogate pair split across them', async () => {
    const bytes = await through<Uint8Array>(['a', '\ud83d', '\ude00b', '', '\ud800', 'c', '\ud800'], new TextEncoderStream());
    const joined = bytes.flatMap((chunk) => [...chunk]);
    expect(joined).toEqual([...new TextEncoder().encode('a\u{1f600}b\ufffdc\ufffd')]);
    expect(bytes.every((chunk) => chunk instanceof Uint8Array && chunk.length > 0)).toBe(true);
  });

  it('has the WebIDL shape, and its encoding is utf-8', () => {
    const stream = new TextEncoderStream();
    expect(stream.encoding).toBe('utf-8');
    expect(Object.prototype.toString.call(stream)).toBe('[object TextEncoderStream]');
    expect(() => Object.getOwnPropertyDescriptor(TextEncoderStream.prototype, 'readable')!.get!.call({})).toThrow(TypeError);
  });
});

describe('TextDecoderStream', () => {
  it('decodes a multi-byte sequence split across chunks, and drops the BOM once', async () => {
    const euro = [0xe2, 0x82, 0xac];
    const chunks = [Uint8Array.of(0xef, 0xbb), Uint8Array.of(0xbf, 0x61, euro[0]!), Uint8Array.of(euro[1]!), Uint8Array.of(euro[2]!, 0xf0)];
    expect((await through<string>(chunks, new TextDecoderStream())).join('')).toBe('a€\ufffd');
  });

  it('takes a label and options, and errors the stream on bad input when fatal', async () => {
    const stream = new TextDecoderStream('utf-16le', { fatal: true, ignoreBOM: true });
    expect([stream.encoding, stream.fatal, stream.ignoreBOM]).toEqual(['utf-16le', true, true]);
    expect(() => new TextDecoderStream('latin2')).toThrow(RangeError);
    expect(await through<string>([Uint8Array.of(0x61), new Uint8Array([0, 0x62, 0]).buffer], new TextDecoderStream('utf-16le'))).toEqual(['ab']);
    await expect(through([Uint8Array.of(0xff)], new TextDecoderStream('utf-8', { fatal: true }))).rejects.toThrow(TypeError);
    await expect(through(['text'], new TextDecoderStream())).rejects.toThrow(TypeError);
    await expect(through([undefined], new TextDecoderStream())).rejects.toThrow(TypeError);
  });
});
