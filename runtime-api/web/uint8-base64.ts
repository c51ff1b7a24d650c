// ECMAScript's Uint8Array to and from base64 and hex (ES2026: Uint8Array.fromBase64, fromHex,
// and the prototype's toBase64, toHex, setFromBase64, setFromHex), which workerd's newer V8
// ships and Node 24's (13.6) has only behind --js-base-64, unfinished (no setFrom*) and marked
// experimental: not a flag to turn on for every tenant. Written here rather than taken from
// core-js, whose modules for these are 70 KB with their internals (every isolate holds the
// runtime's source) and keep shared state on the global object. Installed only where the
// engine's V8 lacks them, so a newer one's own take over.
import { NO_MEMBERS } from '../webidl/null-prototype.ts';

type Alphabet = 'base64' | 'base64url';
type LastChunkHandling = 'loose' | 'strict' | 'stop-before-partial';

const STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
// Code unit → 6-bit value per alphabet, -1 outside it.
const standardValues = new Int8Array(128).fill(-1);
const urlValues = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  standardValues[STANDARD.charCodeAt(i)] = i;
  urlValues[URL_SAFE.charCodeAt(i)] = i;
}
const HEX = '0123456789abcdef';
const fromCharCode = String.fromCharCode;

// Taken at load: tenant code may replace the prototype's getters and Array methods.
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const tagOf = Object.getOwnPropertyDescriptor(typedArrayPrototype, Symbol.toStringTag)!.get!;
const lengthOf = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'length')!.get!;
const bufferOf = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'buffer')!.get!;
const offsetOf = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'byteOffset')!.get!;
const detachedOf = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'detached')?.get;
const Uint8ArrayCtor = Uint8Array;
const apply = Reflect.apply;

/** ValidateUint8Array, then the bytes it views now (GetUint8ArrayBytes's bounds check: a detached buffer is a TypeError). */
function viewOf(value: unknown, method: string): Uint8Array {
  if (apply(tagOf, value, []) !== 'Uint8Array') throw new TypeError(`Uint8Array.prototype.${method} called on a value that is not a Uint8Array`);
  const buffer = apply(bufferOf, value, []) as ArrayBufferLike;
  if (detachedOf && isDetached(buffer)) throw new TypeError(`Uint8Array.prototype.${method}: the array's buffer is detached`);
  // A plain view with the same bytes: no getter or method of the tenant's is read after this.
  return new Uint8ArrayCtor(buffer, apply(offsetOf, value, []) as number, apply(lengthOf, value, []) as number);
}

function isDetached(buffer: ArrayBufferLike): boolean {
  try {
    return apply(detachedOf!, buffer, []) as boolean;
  } catch {
    return false; // a SharedArrayBuffer: never detached
  }
}

function requireString(value: unknown, method: string): string {
  if (typeof value !== 'string') throw new TypeError(`${method}: the input must be a string`);
  return value;
}

/** GetOptionsObject, then the alphabet (and lastChunkHandling where asked), read in the spec's order. */
function readOptions(options: unknown, method: string): { alphabet: Alphabet; options: Record<string, unknown> } {
  if (options !== undefined && (typeof options !== 'object' || options === null) && typeof options !== 'function') {
    throw new TypeError(`${method}: options must be an object`);
  }
  const bag = (options ?? NO_MEMBERS) as Record<string, unknown>;
  const alphabet = bag.alphabet ?? 'base64';
  if (alphabet !== 'base64' && alphabet !== 'base64url') throw new TypeError(`${method}: alphabet must be "base64" or "base64url"`);
  return { alphabet, options: bag };
}

function readLastChunkHandling(bag: Record<string, unknown>, method: string): LastChunkHandling {
  const handling = bag.lastChunkHandling ?? 'loose';
  if (handling !== 'loose' && handling !== 'strict' && handling !== 'stop-before-partial') {
    throw new TypeError(`${method}: lastChunkHandling must be "loose", "strict" or "stop-before-partial"`);
  }
  return handling;
}

interface Decoded {
  read: number;
  bytes: Uint8Array;
  error?: SyntaxError;
}

const isWhitespace = (c: number) => c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d || c === 0x20;

/**
 * FromBase64 (the proposal's decoding algorithm): at most `maxLength` bytes; whole 4-character
 * chunks only, except the last, which `lastChunkHandling` decides. An error comes back with the
 * bytes decoded before it (setFromBase64 writes those).
 */
function decodeBase64(string: string, alphabet: Alphabet, lastChunkHandling: LastChunkHandling, maxLength: number): Decoded {
  const out = new Uint8ArrayCtor(Math.min(maxLength, Math.ceil(string.length / 4) * 3));
  let written = 0;
  let read = 0;
  if (maxLength === 0) return { read, bytes: out.subarray(0, 0) };
  const values = alphabet === 'base64' ? standardValues : urlValues;
  const length = string.length;
  const chunk = [0, 0, 0, 0];
  let chunkLength = 0;
  let index = 0;
  const done = (error?: SyntaxError): Decoded => ({ read, bytes: out.subarray(0, written), ...(error && { error }) });
  const fail = (message: string) => done(new SyntaxError(`Uint8Array.fromBase64: ${message}`));
  // DecodeBase64Chunk: 2, 3 or 4 characters into 1, 2 or 3 bytes; `strict` refuses set bits past them.
  const flush = (strict: boolean): SyntaxError | undefined => {
    const bits = (chunk[0]! << 18) | (chunk[1]! << 12) | (chunkLength > 2 ? chunk[2]! << 6 : 0) | (chunkLength > 3 ? chunk[3]! : 0);
    if (strict && ((chunkLength === 2 && (bits & 0xffff) !== 0) || (chunkLength === 3 && (bits & 0xff) !== 0))) {
      return new SyntaxError('Uint8Array.fromBase64: the last chunk has bits set past its bytes');
    }
    out[written++] = bits >> 16;
    if (chunkLength > 2) out[written++] = (bits >> 8) & 0xff;
    if (chunkLength > 3) out[written++] = bits & 0xff;
    return undefined;
  };
  for (;;) {
    while (index < length && isWhitespace(string.charCodeAt(index))) index++;
    if (index === length) {
      if (chunkLength > 0) {
        if (lastChunkHandling === 'stop-before-partial') return done();
        if (lastChunkHandling === 'strict') return fail('the last chunk is incomplete (strict)');
        if (chunkLength === 1) return fail('the last chunk has a single character');
        flush(false);
      }
      read = length;
      return done();
    }
    const code = string.charCodeAt(index++);
    if (code === 0x3d) {
      if (chunkLength < 2) return fail('padding in the wrong place');
      while (index < length && isWhitespace(string.charCodeAt(index))) index++;
      if (chunkLength === 2) {
        if (index === length) return lastChunkHandling === 'stop-before-partial' ? done() : fail('a chunk of two characters needs two padding characters');
        if (string.charCodeAt(index) === 0x3d) {
          index++;
          while (index < length && isWhitespace(string.charCodeAt(index))) index++;
        }
      }
      if (index < length) return fail('characters after the padding');
      const error = flush(lastChunkHandling === 'strict');
      if (error) return done(error);
      read = length;
      return done();
    }
    const value = code < 128 ? values[code]! : -1;
    if (value < 0) return fail(`"${fromCharCode(code)}" is not in the ${alphabet} alphabet`);
    const remaining = maxLength - written;
    if ((remaining === 1 && chunkLength === 2) || (remaining === 2 && chunkLength === 3)) return done();
    chunk[chunkLength++] = value;
    if (chunkLength === 4) {
      flush(false);
      chunkLength = 0;
      read = index;
      if (written === maxLength) return done();
    }
  }
}

/** FromHex: pairs of hex digits, at most `maxLength` bytes; an odd length or a non-digit is a SyntaxError. */
function decodeHex(string: string, maxLength: number): Decoded {
  const length = string.length;
  const out = new Uint8ArrayCtor(Math.min(maxLength, length >> 1));
  let read = 0;
  if (length % 2 !== 0) return { read, bytes: out.subarray(0, 0), error: new SyntaxError('Uint8Array.fromHex: the string has an odd length') };
  let written = 0;
  while (read < length && written < maxLength) {
    const high = hexValue(string.charCodeAt(read));
    const low = hexValue(string.charCodeAt(read + 1));
    if (high < 0 || low < 0) return { read, bytes: out.subarray(0, written), error: new SyntaxError('Uint8Array.fromHex: the string holds a character that is not a hex digit') };
    out[written++] = (high << 4) | low;
    read += 2;
  }
  return { read, bytes: out.subarray(0, written) };
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/** A new Uint8Array of exactly these bytes (its own buffer). */
function ownCopy(bytes: Uint8Array): Uint8Array {
  return bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

const statics = {
  // Options through `arguments`: the built-ins' lengths count only the required parameters.
  fromBase64(string: unknown): Uint8Array {
    const options: unknown = arguments[1];
    const input = requireString(string, 'Uint8Array.fromBase64');
    const { alphabet, options: bag } = readOptions(options, 'Uint8Array.fromBase64');
    const decoded = decodeBase64(input, alphabet, readLastChunkHandling(bag, 'Uint8Array.fromBase64'), 2 ** 53 - 1);
    if (decoded.error) throw decoded.error;
    return ownCopy(decoded.bytes);
  },
  fromHex(string: unknown): Uint8Array {
    const decoded = decodeHex(requireString(string, 'Uint8Array.fromHex'), 2 ** 53 - 1);
    if (decoded.error) throw decoded.error;
    return ownCopy(decoded.bytes);
  },
};

const methods = {
  toBase64(this: unknown): string {
    const options: unknown = arguments[0];
    if (apply(tagOf, this, []) !== 'Uint8Array') throw new TypeError('Uint8Array.prototype.toBase64 called on a value that is not a Uint8Array');
    const { alphabet, options: bag } = readOptions(options, 'Uint8Array.prototype.toBase64');
    const omitPadding = Boolean(bag.omitPadding);
    const bytes = viewOf(this, 'toBase64');
    const letters = alphabet === 'base64' ? STANDARD : URL_SAFE;
    let text = '';
    const n = bytes.length;
    let i = 0;
    for (; i + 2 < n; i += 3) {
      const bits = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
      text += letters[bits >> 18]! + letters[(bits >> 12) & 63]! + letters[(bits >> 6) & 63]! + letters[bits & 63]!;
    }
    if (i < n) {
      const two = i + 1 < n;
      const bits = (bytes[i]! << 16) | (two ? bytes[i + 1]! << 8 : 0);
      text += letters[bits >> 18]! + letters[(bits >> 12) & 63]!;
      if (two) text += letters[(bits >> 6) & 63]!;
      if (!omitPadding) text += two ? '=' : '==';
    }
    return text;
  },
  toHex(this: unknown): string {
    const bytes = viewOf(this, 'toHex');
    let text = '';
    for (let i = 0; i < bytes.length; i++) text += HEX[bytes[i]! >> 4]! + HEX[bytes[i]! & 15]!;
    return text;
  },
  setFromBase64(this: unknown, string: unknown): { read: number; written: number } {
    const options: unknown = arguments[1];
    if (apply(tagOf, this, []) !== 'Uint8Array') throw new TypeError('Uint8Array.prototype.setFromBase64 called on a value that is not a Uint8Array');
    const input = requireString(string, 'Uint8Array.prototype.setFromBase64');
    const { alphabet, options: bag } = readOptions(options, 'Uint8Array.prototype.setFromBase64');
    const handling = readLastChunkHandling(bag, 'Uint8Array.prototype.setFromBase64');
    const into = viewOf(this, 'setFromBase64');
    const decoded = decodeBase64(input, alphabet, handling, into.length);
    into.set(decoded.bytes);
    if (decoded.error) throw decoded.error;
    return { read: decoded.read, written: decoded.bytes.length };
  },
  setFromHex(this: unknown, string: unknown): { read: number; written: number } {
    if (apply(tagOf, this, []) !== 'Uint8Array') throw new TypeError('Uint8Array.prototype.setFromHex called on a value that is not a Uint8Array');
    const input = requireString(string, 'Uint8Array.prototype.setFromHex');
    const into = viewOf(this, 'setFromHex');
    const decoded = decodeHex(input, into.length);
    into.set(decoded.bytes);
    if (decoded.error) throw decoded.error;
    return { read: decoded.read, written: decoded.bytes.length };
  },
};

/** Puts each one missing on Uint8Array (or its prototype) as built-ins are: writable, configurable, not enumerable. */
export function installUint8ArrayBase64(): void {
  const place = (target: object, from: object) => {
    for (const name of Object.keys(from)) {
      if (Object.prototype.hasOwnProperty.call(target, name)) continue;
      Object.defineProperty(target, name, { __proto__: null, value: (from as Record<string, unknown>)[name], writable: true, enumerable: false, configurable: true } as PropertyDescriptor);
    }
  };
  place(Uint8Array, statics);
  place(Uint8Array.prototype, methods);
}
