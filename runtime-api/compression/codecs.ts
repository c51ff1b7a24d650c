// The three formats of the Compression standard over fflate's streaming DEFLATE: "deflate-raw"
// is RFC 1951 as fflate reads and writes it, "deflate" wraps it in RFC 1950's zlib header and
// Adler-32 trailer, "gzip" in RFC 1952's header and CRC-32/size trailer. The wrappers are done here,
// not with fflate's Zlib/Gzip/Unzlib/Gunzip: those streaming decompressors neither check the
// trailer nor say where the compressed data ended, and the standard makes a bad check value,
// a truncated stream and bytes after the end each an error.
//
// Loaded on the first CompressionStream or DecompressionStream made (runtime-api/index.ts):
// fflate builds its Huffman tables (~70 KB) when its module is evaluated.
import { Deflate, Inflate } from 'fflate';
import { adler32, crc32, type Checksum } from './checksums.ts';

export type CompressionFormat = 'deflate' | 'deflate-raw' | 'gzip';

/** Takes the chunks written to a stream and gives the chunks it produces, as it produces them. */
export interface Codec {
  /** Compression §"compress and enqueue a chunk" / "decompress and enqueue a chunk". */
  write(bytes: Uint8Array, enqueue: (chunk: Uint8Array<ArrayBuffer>) => void): void;
  /** §"compress flush and enqueue" / "decompress flush and enqueue". */
  close(enqueue: (chunk: Uint8Array<ArrayBuffer>) => void): void;
}

// fflate's Deflate grows its window buffer to hold a chunk whole, and its Inflate inflates a chunk
// in one call: a large chunk goes in slices. An inflated slice is at most 1032 times its size
// (DEFLATE's limit), so a 16 KiB one gives at most ~17 MB in one step, where zlib would have given
// it in pieces; a slice much smaller costs fflate's per-call buffers more than it saves.
const DEFLATE_SLICE = 65536;
const INFLATE_SLICE = 16384;

// zlib's defaults, which workerd uses: level 6, and a 2^15-entry hash table (zlib's memLevel 8).
// fflate's own default for streams is a 2^20-entry one, 2 MB for every CompressionStream.
const DEFLATE_OPTIONS = { level: 6, mem: 3 } as const;

// RFC 1952 §2.3: ID1 ID2, CM 8 (deflate), no flags, MTIME 0 (none), XFL 0, OS 3 (Unix), as zlib writes it.
const GZIP_HEADER = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
// RFC 1950 §2.2: CM 8 with a 32 KiB window, FLEVEL 2 (the default level), no dictionary.
const ZLIB_HEADER = [0x78, 0x9c];

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function checksumFor(format: CompressionFormat): Checksum | undefined {
  if (format === 'gzip') return crc32();
  return format === 'deflate' ? adler32() : undefined;
}

function littleEndian32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];
}

export function compressor(format: CompressionFormat): Codec {
  const checksum = checksumFor(format);
  let size = 0;
  let header: number[] | undefined = format === 'gzip' ? GZIP_HEADER : format === 'deflate' ? ZLIB_HEADER : undefined;
  let produced: Uint8Array[] = [];
  const deflate = new Deflate(DEFLATE_OPTIONS, (data) => {
    if (data.length > 0) produced.push(data);
  });

  /** Enqueues what fflate gave, the header before the first bytes and the trailer after the last. */
  function emit(enqueue: (chunk: Uint8Array<ArrayBuffer>) => void, trailer?: number[]): void {
    const chunks = produced;
    produced = [];
    // fflate always gives the final block when finishing, so the trailer has a chunk to end.
    if (trailer) chunks.push(concat(chunks.pop() ?? new Uint8Array(0), Uint8Array.from(trailer)));
    for (let chunk of chunks) {
      if (header) {
        chunk = concat(Uint8Array.from(header), chunk);
        header = undefined;
      }
      enqueue(chunk as Uint8Array<ArrayBuffer>);
    }
  }

  return {
    write(bytes, enqueue) {
      checksum?.update(bytes);
      size = (size + bytes.length) >>> 0;
      for (let i = 0; i < bytes.length; i += DEFLATE_SLICE) deflate.push(bytes.subarray(i, i + DEFLATE_SLICE));
      emit(enqueue);
    },
    close(enqueue) {
      deflate.push(new Uint8Array(0), true);
      let trailer: number[] | undefined;
      if (format === 'gzip') trailer = [...littleEndian32(checksum!.value()), ...littleEndian32(size)];
      else if (format === 'deflate') trailer = [...littleEndian32(checksum!.value())].reverse();
      emit(enqueue, trailer);
    },
  };
}

/**
 * The state fflate's Inflate keeps and does not declare: where the compressed data ended, if it
 * has (fflate 0.8; the tests that cut a stream at every byte and add bytes after it catch a change).
 */
interface InflateState {
  /** Unconsumed input, from the byte the bit position is in. */
  p: Uint8Array;
  /** f: the last block has begun; l: a block's Huffman tables while inside it; p: the bit position in `p`. */
  s: { f?: number; l?: unknown; p?: number };
}

/** True once the final block has been read to its end (RFC 1951 §3.2.3 BFINAL). */
function inflateEnded(inflate: InflateState): boolean {
  return !!inflate.s.f && !inflate.s.l;
}

/** The input after the end of the DEFLATE data: a partly used byte counts as used. */
function inflateLeftover(inflate: InflateState): Uint8Array {
  return inflate.p.subarray(((inflate.s.p ?? 0) + 7) >> 3);
}

function decompressionError(detail: string): TypeError {
  return new TypeError(`Decompression failed: ${detail}`);
}

/**
 * RFC 1952 §2.3 member header: its length once `bytes` holds all of it, undefined before then.
 * Checked as zlib checks it: the magic, CM 8, no reserved flag, and FHCRC when present.
 */
function gzipHeaderLength(bytes: Uint8Array): number | undefined {
  if (bytes.length >= 1 && bytes[0] !== 0x1f) throw decompressionError('incorrect header check');
  if (bytes.length >= 2 && bytes[1] !== 0x8b) throw decompressionError('incorrect header check');
  if (bytes.length >= 3 && bytes[2] !== 8) throw decompressionError('unknown compression method');
  if (bytes.length < 10) return undefined;
  const flags = bytes[3]!;
  if (flags & 0xe0) throw decompressionError('unknown header flags set');
  let end = 10;
  if (flags & 4) {
    // FEXTRA: XLEN, then XLEN bytes.
    if (bytes.length < end + 2) return undefined;
    end += 2 + (bytes[end]! | (bytes[end + 1]! << 8));
  }
  // FNAME, then FCOMMENT: each zero-terminated.
  for (const flag of [8, 16]) {
    if (!(flags & flag)) continue;
    const zero = bytes.indexOf(0, end);
    if (zero < 0) return undefined;
    end = zero + 1;
  }
  if (flags & 2) {
    // FHCRC: the low 16 bits of the CRC-32 of the header before it.
    if (bytes.length < end + 2) return undefined;
    const crc = crc32();
    crc.update(bytes.subarray(0, end));
    if ((crc.value() & 0xffff) !== (bytes[end]! | (bytes[end + 1]! << 8))) throw decompressionError('header crc mismatch');
    end += 2;
  }
  return bytes.length < end ? undefined : end;
}

/** RFC 1950 §2.2 header: CM 8, a window of at most 32 KiB, FCHECK; no preset dictionary is known. */
function zlibHeaderLength(bytes: Uint8Array): number | undefined {
  if (bytes.length < 2) return undefined;
  const cmf = bytes[0]!;
  const flg = bytes[1]!;
  if (((cmf << 8) | flg) % 31 !== 0) throw decompressionError('incorrect header check');
  if ((cmf & 0x0f) !== 8) throw decompressionError('unknown compression method');
  if (cmf >> 4 > 7) throw decompressionError('invalid window size');
  if (flg & 0x20) throw decompressionError('a preset dictionary is needed');
  return 2;
}

export function decompressor(format: CompressionFormat): Codec {
  const checksum = checksumFor(format);
  let size = 0;
  let phase: 'header' | 'body' | 'trailer' | 'end' = format === 'deflate-raw' ? 'body' : 'header';
  // Header or trailer bytes, held until all of them have come.
  let held: Uint8Array = new Uint8Array(0);
  let produced: Uint8Array[] = [];
  const inflate = new Inflate((data) => {
    if (data.length === 0) return;
    checksum?.update(data);
    size = (size + data.length) >>> 0;
    produced.push(data);
  });
  const state = inflate as unknown as InflateState;

  function checkTrailer(trailer: Uint8Array): void {
    const word = (at: number) => (trailer[at]! | (trailer[at + 1]! << 8) | (trailer[at + 2]! << 16) | (trailer[at + 3]! << 24)) >>> 0;
    if (format === 'gzip') {
      if (word(0) !== checksum!.value()) throw decompressionError('incorrect data check');
      if (word(4) !== size) throw decompressionError('incorrect length check');
    } else if (format === 'deflate') {
      const expected = ((trailer[0]! << 24) | (trailer[1]! << 16) | (trailer[2]! << 8) | trailer[3]!) >>> 0;
      if (expected !== checksum!.value()) throw decompressionError('incorrect data check');
    }
  }

  /** Moves `input` through header, DEFLATE data and trailer; returns the bytes past the end. */
  function consume(input: Uint8Array): Uint8Array {
    if (phase === 'header') {
      const header = held.length > 0 ? concat(held, input) : input;
      const length = format === 'gzip' ? gzipHeaderLength(header) : zlibHeaderLength(header);
      if (length === undefined) {
        // Held past this call: a copy, as the writer may reuse its buffer.
        held = header === input ? input.slice() : header;
        return new Uint8Array(0);
      }
      input = header.subarray(length);
      held = new Uint8Array(0);
      phase = 'body';
    }
    if (phase === 'body') {
      for (let i = 0; i < input.length; i += INFLATE_SLICE) {
        try {
          inflate.push(input.subarray(i, i + INFLATE_SLICE));
        } catch (error) {
          // fflate's errors about the data carry a numeric code; anything else (an ArrayBuffer the
          // memory limit refused) goes on as it is, so the host sees the memory limit it is.
          if (typeof (error as { code?: unknown } | null)?.code !== 'number') throw error;
          throw decompressionError((error as Error).message);
        }
        if (inflateEnded(state)) {
          input = concat(inflateLeftover(state), input.subarray(i + INFLATE_SLICE));
          phase = 'trailer';
          break;
        }
      }
      if (phase === 'body') return new Uint8Array(0);
    }
    if (phase === 'trailer') {
      const length = format === 'gzip' ? 8 : format === 'deflate' ? 4 : 0;
      const trailer = held.length > 0 ? concat(held, input) : input;
      if (trailer.length < length) {
        held = trailer === input ? input.slice() : trailer;
        return new Uint8Array(0);
      }
      checkTrailer(trailer);
      input = trailer.subarray(length);
      held = new Uint8Array(0);
      phase = 'end';
    }
    return input;
  }

  function emit(enqueue: (chunk: Uint8Array<ArrayBuffer>) => void): void {
    const chunks = produced;
    produced = [];
    for (const chunk of chunks) enqueue(chunk as Uint8Array<ArrayBuffer>);
  }

  return {
    write(bytes, enqueue) {
      const rest = consume(bytes);
      emit(enqueue);
      // "If the end of the compressed input has been reached, and ds's context has not fully consumed chunk, then throw a TypeError."
      if (rest.length > 0) throw new TypeError('Decompression failed: trailing bytes after the end of the compressed data');
    },
    close() {
      // "If the end of the compressed input has not been reached, then throw a TypeError."
      if (phase !== 'end') throw new TypeError('Decompression failed: the compressed data ended before its end');
    },
  };
}
