import { crc32, deflateRawSync, deflateSync, gunzipSync, gzipSync, inflateRawSync, inflateSync, type ZlibOptions } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ReadableStream } from '../web/streams.ts';
import * as codecs from './codecs.ts';
import { defineCompressionStreams } from './compression-streams.ts';

const { CompressionStream, DecompressionStream } = defineCompressionStreams(() => codecs);
const FORMATS = ['gzip', 'deflate', 'deflate-raw'] as const;
type Format = (typeof FORMATS)[number];

const nodeCompress: Record<Format, (b: Uint8Array, options?: ZlibOptions) => Uint8Array> = { gzip: gzipSync, deflate: deflateSync, 'deflate-raw': deflateRawSync };
const nodeDecompress: Record<Format, (b: Uint8Array) => Uint8Array> = { gzip: gunzipSync, deflate: inflateSync, 'deflate-raw': inflateRawSync };

/** A few hundred KB that compress some but not all the way: words, with random bytes between. */
function sample(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  const words = new TextEncoder().encode('the quick brown fox jumps over the lazy dog ');
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (x >>> 24) % 4 === 0 ? x >>> 16 : words[i % words.length]!;
  }
  return out;
}

/** Byte equality; toEqual compares a few hundred KB element by element, which takes most of a second. */
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.compare(actual, expected)).toBe(0);
}

/** Splits bytes into chunks of uneven sizes, as a network would. */
function split(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0, n = 0; i < bytes.length; n++) {
    const size = sizes[n % sizes.length]!;
    out.push(bytes.subarray(i, i + size));
    i += size;
  }
  return out;
}

async function through(chunks: unknown[], transform: { readable: ReadableStream; writable: unknown }): Promise<Uint8Array> {
  const source = new ReadableStream({
    pull(controller) {
      if (chunks.length === 0) controller.close();
      else controller.enqueue(chunks.shift());
    },
  });
  return collect(source.pipeThrough(transform as never));
}

/** Reads a stream to its end, checking every chunk is a non-empty Uint8Array. */
async function collect(readable: ReadableStream): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  for await (const chunk of readable as ReadableStream<Uint8Array>) {
    expect(chunk).toBeInstanceOf(Uint8Array);
    expect(chunk.length).toBeGreaterThan(0);
    out.push(chunk);
  }
  return Buffer.concat(out);
}

describe('CompressionStream and DecompressionStream', () => {
  const data = sample(300_000);

  it.each(FORMATS)('%s: round trips a few hundred KB written in uneven chunks', async (format) => {
    const compressed = await through(split(data, [1, 70_000, 13, 4096]), new CompressionStream(format));
    expect(compressed.length).toBeLessThan(data.length / 2);
    expectBytes(await through(split(compressed, [7, 30_000, 1]), new DecompressionStream(format)), data);
  });

  it.each(FORMATS)('%s: reads what node:zlib writes and writes what it reads, byte by byte at the edges', async (format) => {
    expectBytes(nodeDecompress[format](await through([data.subarray(0, 100_000), data.subarray(100_000)], new CompressionStream(format))), data);
    const theirs = nodeCompress[format](data);
    // Header and trailer one byte at a time, the middle whole.
    const chunks = [...split(theirs.subarray(0, 20), [1]), theirs.subarray(20, -10), ...split(theirs.subarray(-10), [1])];
    expectBytes(await through(chunks, new DecompressionStream(format)), data);
    // Stored blocks (level 0) and an empty input take other paths through the decoder.
    const stored = nodeCompress[format](data.subarray(0, 70_000), { level: 0 });
    expectBytes(await through([stored], new DecompressionStream(format)), data.subarray(0, 70_000));
    expect(await through([nodeCompress[format](new Uint8Array(0))], new DecompressionStream(format))).toEqual(Buffer.alloc(0));
    expect(nodeDecompress[format](await through([], new CompressionStream(format)))).toEqual(Buffer.alloc(0));
  });

  it('writes the headers zlib writes, and takes every optional gzip header field', async () => {
    const hello = new TextEncoder().encode('hello world');
    const gzip = await through([hello], new CompressionStream('gzip'));
    expect([...gzip.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    expect([...(await through([hello], new CompressionStream('deflate'))).subarray(0, 2)]).toEqual([0x78, 0x9c]);
    // FHCRC | FEXTRA | FNAME | FCOMMENT, built by hand: node:zlib writes none of them.
    const head = [0x1f, 0x8b, 8, 2 | 4 | 8 | 16, 0, 0, 0, 0, 0, 3, 3, 0, 1, 2, 3, ...Buffer.from('name\0comment\0')];
    const crc = crc32(Uint8Array.from(head)) & 0xffff;
    const full = Buffer.concat([Uint8Array.from([...head, crc & 0xff, crc >> 8]), gzip.subarray(10)]);
    expect(Buffer.from(await through(split(full, [3]), new DecompressionStream('gzip'))).toString()).toBe('hello world');
    const badHeaderCrc = Buffer.from(full);
    badHeaderCrc[head.length] ^= 1;
    await expect(through([badHeaderCrc], new DecompressionStream('gzip'))).rejects.toThrow(TypeError);
  });

  it('refuses unknown formats and a missing one with a TypeError', () => {
    for (const Stream of [CompressionStream, DecompressionStream]) {
      for (const format of ['GZIP', 'brotli', 'zip', '', undefined]) expect(() => new Stream(format as never)).toThrow(TypeError);
      expect(() => new (Stream as new () => unknown)()).toThrow(TypeError);
      expect(new Stream({ toString: () => 'gzip' } as never)).toBeInstanceOf(Stream);
    }
  });

  it('errors the stream on chunks that are no BufferSource, and takes every BufferSource', async () => {
    for (const chunk of ['text', 42, [1, 2], null, undefined, new Uint8Array(new SharedArrayBuffer(4))]) {
      await expect(through([chunk], new CompressionStream('gzip'))).rejects.toThrow(TypeError);
      await expect(through([chunk], new DecompressionStream('gzip'))).rejects.toThrow(TypeError);
    }
    const bytes = new TextEncoder().encode('abcdefgh');
    const views = [bytes.buffer, new DataView(bytes.buffer, 2), new Uint16Array(bytes.buffer, 0, 1)];
    expect(Buffer.from(gunzipSync(await through(views, new CompressionStream('gzip')))).toString()).toBe('abcdefghcdefghab');
  });

  it.each(FORMATS)('%s: errors with a TypeError on every truncation, and on bytes after the end', async (format) => {
    const whole = nodeCompress[format](new TextEncoder().encode('hello hello hello world'));
    for (let end = 0; end < whole.length; end++) {
      await expect(through([whole.subarray(0, end)], new DecompressionStream(format)), `cut at ${end}`).rejects.toThrow(TypeError);
    }
    const extra = Uint8Array.of(0);
    await expect(through([Buffer.concat([whole, extra])], new DecompressionStream(format))).rejects.toThrow(/trailing bytes/);
    await expect(through([whole, extra], new DecompressionStream(format))).rejects.toThrow(/trailing bytes/);
    // A second member is bytes after the end too (the standard has no multi-member gzip; workerd agrees).
    await expect(through([whole, whole], new DecompressionStream(format))).rejects.toThrow(TypeError);
    // An empty chunk after the end is no data.
    expect(Buffer.from(await through([whole, new Uint8Array(0)], new DecompressionStream(format))).toString()).toBe('hello hello hello world');
  });

  it('errors with a TypeError on corrupt data and on a wrong check value or length', async () => {
    const gzip = gzipSync(data);
    const flips: [Format, Uint8Array, number][] = [
      ['gzip', gzip, gzip.length - 8], // CRC-32
      ['gzip', gzip, gzip.length - 2], // ISIZE
      ['gzip', gzip, 0], // magic
      ['gzip', gzip, 3], // reserved flags
      ['deflate', deflateSync(data), 0], // CMF
      ['deflate', deflateSync(data), 1], // FCHECK
      ['deflate', deflateSync(data), deflateSync(data).length - 1], // Adler-32
    ];
    for (const [format, bytes, at] of flips) {
      const bad = Buffer.from(bytes);
      bad[at] ^= at === 3 ? 0x20 : 0x01;
      await expect(through([bad], new DecompressionStream(format)), `${format} byte ${at}`).rejects.toThrow(TypeError);
    }
    await expect(through([deflateSync(data, { dictionary: Buffer.from('dict') })], new DecompressionStream('deflate'))).rejects.toThrow(/dictionary/);
    // Block type 3 is reserved (RFC 1951 §3.2.3): fflate's own error, as a TypeError.
    await expect(through([Uint8Array.of(0x07, 0, 0)], new DecompressionStream('deflate-raw'))).rejects.toThrow(TypeError);
    // A body inflated to more than the trailer says, with its check value right: the length check.
    const body = deflateRawSync(data);
    const trailer = Buffer.from(gzip.subarray(-8));
    trailer.writeUInt32LE(data.length + 1, 4);
    const wrongLength = Buffer.concat([gzip.subarray(0, 10), body, trailer]);
    await expect(through([wrongLength], new DecompressionStream('gzip'))).rejects.toThrow(/length check/);
  });

  it('keeps no reference to a written chunk: the tenant may reuse its buffer', async () => {
    const compressed = gzipSync(data);
    const stream = new DecompressionStream('gzip');
    const writer = stream.writable.getWriter();
    const read = collect(stream.readable);
    const buffer = new Uint8Array(1000);
    for (let i = 0; i < compressed.length; i += 1000) {
      const piece = compressed.subarray(i, i + 1000);
      buffer.set(piece);
      await writer.write(buffer.subarray(0, piece.length));
      buffer.fill(0xaa);
    }
    await writer.close();
    expectBytes(await read, data);
  });

  it('gives output as it is made, and writes wait for reads as any TransformStream does', async () => {
    const stream = new CompressionStream('deflate-raw');
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    let written = false;
    const write = writer.write(data).then(() => { written = true; });
    await new Promise((r) => setTimeout(r, 10));
    // The readable has no room (its high-water mark is 0) until someone reads.
    expect(written).toBe(false);
    const first = await reader.read();
    await write;
    expect(first.done).toBe(false);
    expect(first.value!.length).toBeGreaterThan(0);
    // Output before close: the stream does not hold the input back until the end.
    const rest: Uint8Array[] = [first.value!];
    const closed = writer.close();
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(r.value);
    await closed;
    expectBytes(inflateRawSync(Buffer.concat(rest)), data);
  });

  it('has the WebIDL shape', () => {
    const stream = new CompressionStream('gzip');
    expect(Object.prototype.toString.call(stream)).toBe('[object CompressionStream]');
    expect(Object.prototype.toString.call(new DecompressionStream('gzip'))).toBe('[object DecompressionStream]');
    expect(Object.keys(CompressionStream.prototype)).toEqual(['readable', 'writable']);
    expect([CompressionStream.length, DecompressionStream.length]).toEqual([1, 1]);
    expect(() => Object.getOwnPropertyDescriptor(DecompressionStream.prototype, 'readable')!.get!.call(stream)).toThrow(TypeError);
  });
});
