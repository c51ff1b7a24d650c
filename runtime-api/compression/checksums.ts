// The check values the gzip and zlib wrappers carry: CRC-32 (RFC 1952 §8) and Adler-32
// (RFC 1950 §9). fflate computes both for its compressors but exports neither, and its streaming
// Gunzip and Unzlib never check them, so the wrappers (codecs.ts) do both directions here.

/** A running check value over the bytes given so far. */
export interface Checksum {
  update(bytes: Uint8Array): void;
  /** The value as an unsigned 32-bit integer. */
  value(): number;
}

let crcTable: Int32Array | undefined;

/** The byte-at-a-time table for the reflected polynomial 0xEDB88320; made on first use (1 KiB). */
function table(): Int32Array {
  if (crcTable) return crcTable;
  crcTable = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crcTable[n] = c;
  }
  return crcTable;
}

export function crc32(): Checksum {
  const t = table();
  let crc = -1;
  return {
    update(bytes) {
      let c = crc;
      for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
      crc = c;
    },
    value: () => ~crc >>> 0,
  };
}

// Adler-32 sums modulo the largest prime below 2^16. 5552 bytes is the most that can be added
// before b could pass 2^32 (RFC 1950's NMAX), so the modulo runs once per 5552 bytes, not per byte.
const BASE = 65521;
const NMAX = 5552;

export function adler32(): Checksum {
  let a = 1;
  let b = 0;
  return {
    update(bytes) {
      for (let i = 0; i < bytes.length; ) {
        const end = Math.min(i + NMAX, bytes.length);
        for (; i < end; i++) {
          a += bytes[i]!;
          b += a;
        }
        a %= BASE;
        b %= BASE;
      }
    },
    value: () => ((b << 16) | a) >>> 0,
  };
}
