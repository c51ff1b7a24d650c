// Encoding standard UTF-8 and UTF-16LE: the decoders and the encoder behind
// TextDecoder, TextEncoder and the Body mixin. A bare isolate has no native codec,
// so these loops are the hot path for every text body.

const fromCharCode = String.fromCharCode;
// fromCharCode.apply over 2 KiB chunks measured fastest in V8 (about 2 ns a byte).
const chunkUnits = 2048;
// Decoders write into one shared buffer: they run to completion without calling
// user code, so no two decodes can interleave. Each step writes at most 2 units.
const scratch = new Uint16Array(chunkUnits + 4);

function unitsToString(units: Uint16Array, count: number): string {
  return fromCharCode.apply(null, units.subarray(0, count) as unknown as number[]);
}

/** Code units for bytes all below 0x80, without going through the decoder. */
function asciiToString(bytes: Uint8Array, start: number, end: number): string {
  let out = '';
  for (let i = start; i < end; i += chunkUnits) {
    out += fromCharCode.apply(null, bytes.subarray(i, Math.min(i + chunkUnits, end)) as unknown as number[]);
  }
  return out;
}

function decoderError(): TypeError {
  return new TypeError('The encoded data is not valid for this encoding');
}

/** Encoding "UTF-8 decoder": the state kept between streamed chunks. */
export class Utf8Decoder {
  codePoint = 0;
  bytesSeen = 0;
  bytesNeeded = 0;
  lowerBoundary = 0x80;
  upperBoundary = 0xbf;

  reset(): void {
    this.codePoint = this.bytesSeen = this.bytesNeeded = 0;
    this.lowerBoundary = 0x80;
    this.upperBoundary = 0xbf;
  }
}

/**
 * Encoding "process a queue" with the UTF-8 decoder over bytes, in
 * "replacement" or (fatal) "fatal" error mode. With flush the queue ends here, so
 * an incomplete sequence is an error; without it the sequence waits in decoder.
 * Fatal errors throw a TypeError and reset the decoder.
 */
export function runUtf8Decoder(decoder: Utf8Decoder, bytes: Uint8Array, flush: boolean, fatal: boolean): string {
  const n = bytes.length;
  let i = 0;
  let out = '';
  let { codePoint, bytesSeen, bytesNeeded, lowerBoundary, upperBoundary } = decoder;
  if (bytesNeeded === 0) {
    while (i < n && bytes[i]! < 0x80) i++;
    if (i > 0) out = asciiToString(bytes, 0, i);
    if (i === n) return out;
  }
  const units = scratch;
  let k = 0;
  while (i < n) {
    if (k >= chunkUnits) {
      out += unitsToString(units, k);
      k = 0;
    }
    const byte = bytes[i]!;
    if (bytesNeeded === 0) {
      i++;
      if (byte < 0x80) {
        units[k++] = byte;
      } else if (byte >= 0xc2 && byte <= 0xdf) {
        bytesNeeded = 1;
        codePoint = byte & 0x1f;
      } else if (byte >= 0xe0 && byte <= 0xef) {
        if (byte === 0xe0) lowerBoundary = 0xa0;
        else if (byte === 0xed) upperBoundary = 0x9f;
        bytesNeeded = 2;
        codePoint = byte & 0xf;
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        if (byte === 0xf0) lowerBoundary = 0x90;
        else if (byte === 0xf4) upperBoundary = 0x8f;
        bytesNeeded = 3;
        codePoint = byte & 0x7;
      } else {
        if (fatal) throw fatalError(decoder);
        units[k++] = 0xfffd;
      }
      continue;
    }
    if (byte < lowerBoundary || byte > upperBoundary) {
      // The sequence so far is one maximal subpart: one U+FFFD, then this byte
      // is read again ("restore byte to ioQueue").
      codePoint = bytesNeeded = bytesSeen = 0;
      lowerBoundary = 0x80;
      upperBoundary = 0xbf;
      if (fatal) throw fatalError(decoder);
      units[k++] = 0xfffd;
      continue;
    }
    i++;
    lowerBoundary = 0x80;
    upperBoundary = 0xbf;
    codePoint = (codePoint << 6) | (byte & 0x3f);
    if (++bytesSeen !== bytesNeeded) continue;
    if (codePoint > 0xffff) {
      codePoint -= 0x10000;
      units[k++] = 0xd800 | (codePoint >> 10);
      units[k++] = 0xdc00 | (codePoint & 0x3ff);
    } else {
      units[k++] = codePoint;
    }
    codePoint = bytesNeeded = bytesSeen = 0;
  }
  if (flush && bytesNeeded !== 0) {
    codePoint = bytesNeeded = bytesSeen = 0;
    lowerBoundary = 0x80;
    upperBoundary = 0xbf;
    if (fatal) throw fatalError(decoder);
    units[k++] = 0xfffd;
  }
  decoder.codePoint = codePoint;
  decoder.bytesSeen = bytesSeen;
  decoder.bytesNeeded = bytesNeeded;
  decoder.lowerBoundary = lowerBoundary;
  decoder.upperBoundary = upperBoundary;
  return k > 0 ? out + unitsToString(units, k) : out;
}

function fatalError(decoder: { reset(): void }): TypeError {
  decoder.reset();
  return decoderError();
}

/** Encoding "shared UTF-16 decoder" (little-endian only): the state kept between chunks. */
export class Utf16leDecoder {
  leadingByte = -1;
  leadingSurrogate = -1;

  reset(): void {
    this.leadingByte = this.leadingSurrogate = -1;
  }
}

/** Encoding "process a queue" with the UTF-16LE decoder; as runUtf8Decoder. */
export function runUtf16leDecoder(decoder: Utf16leDecoder, bytes: Uint8Array, flush: boolean, fatal: boolean): string {
  const n = bytes.length;
  const units = scratch;
  let out = '';
  let k = 0;
  let { leadingByte, leadingSurrogate } = decoder;
  for (let i = 0; i < n; i++) {
    if (k >= chunkUnits) {
      out += unitsToString(units, k);
      k = 0;
    }
    if (leadingByte < 0) {
      leadingByte = bytes[i]!;
      continue;
    }
    const codeUnit = (bytes[i]! << 8) | leadingByte;
    leadingByte = -1;
    if (leadingSurrogate >= 0) {
      const lead = leadingSurrogate;
      leadingSurrogate = -1;
      if (codeUnit >= 0xdc00 && codeUnit <= 0xdfff) {
        units[k++] = lead;
        units[k++] = codeUnit;
        continue;
      }
      // Error; the two bytes are restored and read again as a fresh code unit.
      if (fatal) throw fatalError(decoder);
      units[k++] = 0xfffd;
    }
    if (codeUnit >= 0xd800 && codeUnit <= 0xdbff) {
      leadingSurrogate = codeUnit;
    } else if (codeUnit >= 0xdc00 && codeUnit <= 0xdfff) {
      if (fatal) throw fatalError(decoder);
      units[k++] = 0xfffd;
    } else {
      units[k++] = codeUnit;
    }
  }
  if (flush && (leadingByte >= 0 || leadingSurrogate >= 0)) {
    leadingByte = leadingSurrogate = -1;
    if (fatal) throw fatalError(decoder);
    units[k++] = 0xfffd;
  }
  decoder.leadingByte = leadingByte;
  decoder.leadingSurrogate = leadingSurrogate;
  return k > 0 ? out + unitsToString(units, k) : out;
}

/** Encoding "UTF-8 decode": a leading BOM is dropped, errors become U+FFFD. */
export function utf8Decode(bytes: Uint8Array): string {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return runUtf8Decoder(new Utf8Decoder(), bom ? bytes.subarray(3) : bytes, true, false);
}

/** UTF-8 byte length of s, counting each lone surrogate as U+FFFD (3 bytes). */
export function utf8Length(s: string): number {
  const n = s.length;
  let size = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      size += 1;
    } else if (c <= 0xdbff && c >= 0xd800 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      size += 2; // two units, four bytes
      i++;
    } else {
      size += 2;
    }
  }
  return size;
}

/**
 * Encoding "UTF-8 encode" (its "UTF-8 encoder"). s is taken as a USVString:
 * a lone surrogate is encoded as U+FFFD, as the IDL conversion would make it.
 */
export function utf8Encode(s: string): Uint8Array {
  const n = s.length;
  const out = new Uint8Array(utf8Length(s));
  if (out.length === n) {
    for (let i = 0; i < n; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  utf8EncodeInto(s, out);
  return out;
}

/**
 * Encoding TextEncoder encodeInto() steps: encodes whole scalar values of s into dest
 * while they fit; read counts code units of s, written counts bytes.
 */
export function utf8EncodeInto(s: string, dest: Uint8Array): { read: number; written: number } {
  const n = s.length;
  const capacity = dest.length;
  let read = 0;
  let written = 0;
  while (read < n) {
    let c = s.charCodeAt(read);
    if (c < 0x80) {
      if (written >= capacity) break;
      dest[written++] = c;
      read++;
      continue;
    }
    let units = 1;
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = read + 1 < n ? s.charCodeAt(read + 1) : 0;
      if (c <= 0xdbff && (next & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        units = 2;
      } else {
        c = 0xfffd;
      }
    }
    if (c < 0x800) {
      if (written + 2 > capacity) break;
      dest[written++] = 0xc0 | (c >> 6);
    } else if (c < 0x10000) {
      if (written + 3 > capacity) break;
      dest[written++] = 0xe0 | (c >> 12);
      dest[written++] = 0x80 | ((c >> 6) & 0x3f);
    } else {
      if (written + 4 > capacity) break;
      dest[written++] = 0xf0 | (c >> 18);
      dest[written++] = 0x80 | ((c >> 12) & 0x3f);
      dest[written++] = 0x80 | ((c >> 6) & 0x3f);
    }
    dest[written++] = 0x80 | (c & 0x3f);
    read += units;
  }
  return { read, written };
}
