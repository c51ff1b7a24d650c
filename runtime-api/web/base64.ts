// HTML §8.3 "Base64 utility methods" (atob, btoa) over Infra's
// forgiving-base64 encode and decode.
import { requireArguments, toDOMString } from '../webidl/index.ts';
import { DOMException } from './dom-exception.ts';

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// Code unit → 6-bit value, or -1 outside the alphabet.
const sextets = new Int8Array(128).fill(-1);
const alphabetCodes = new Uint8Array(64);
for (let i = 0; i < 64; i++) {
  alphabetCodes[i] = alphabet.charCodeAt(i);
  sextets[alphabet.charCodeAt(i)] = i;
}

const asciiWhitespace = /[\t\n\f\r ]+/g;
const fromCharCode = String.fromCharCode;
const chunkUnits = 2048;

function invalidCharacter(message: string): DOMException {
  return new DOMException(message, 'InvalidCharacterError');
}

/** HTML atob(data): forgiving-base64 decode, each byte becoming one code unit. */
export function atob(data: string): string {
  requireArguments(arguments.length, 1, "Failed to execute 'atob'");
  let s = toDOMString(data).replace(asciiWhitespace, '');
  // Infra forgiving-base64 decode, steps 2-4.
  if (s.length % 4 === 0 && s.charCodeAt(s.length - 1) === 0x3d) {
    s = s.slice(0, s.charCodeAt(s.length - 2) === 0x3d ? -2 : -1);
  }
  const n = s.length;
  if (n % 4 === 1) throw invalidCharacter('The string to be decoded is not correctly encoded.');
  const bytes = new Uint8Array((n * 3) >> 2);
  let buffer = 0;
  let bits = 0;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const value = c < 128 ? sextets[c]! : -1;
    if (value < 0) throw invalidCharacter('The string to be decoded is not correctly encoded.');
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits === 24) {
      bytes[k++] = buffer >> 16;
      bytes[k++] = (buffer >> 8) & 0xff;
      bytes[k++] = buffer & 0xff;
      buffer = bits = 0;
    }
  }
  // Steps 7.2-7.3: 12 or 18 leftover bits give 1 or 2 bytes; the rest are discarded.
  if (bits === 12) {
    bytes[k++] = buffer >> 4;
  } else if (bits === 18) {
    bytes[k++] = buffer >> 10;
    bytes[k++] = (buffer >> 2) & 0xff;
  }
  return bytesToString(bytes, k);
}

/** Isomorphic decode of bytes[0..end): one code unit per byte. */
function bytesToString(bytes: Uint8Array, end: number): string {
  let out = '';
  for (let i = 0; i < end; i += chunkUnits) {
    out += fromCharCode.apply(null, bytes.subarray(i, Math.min(i + chunkUnits, end)) as unknown as number[]);
  }
  return out;
}

/** HTML btoa(data): forgiving-base64 encode of the string's code units as bytes. */
export function btoa(data: string): string {
  requireArguments(arguments.length, 1, "Failed to execute 'btoa'");
  const s = toDOMString(data);
  const n = s.length;
  const out = new Uint8Array(Math.ceil(n / 3) * 4);
  let k = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const triple = (latin1At(s, i) << 16) | (latin1At(s, i + 1) << 8) | latin1At(s, i + 2);
    out[k++] = alphabetCodes[triple >> 18]!;
    out[k++] = alphabetCodes[(triple >> 12) & 63]!;
    out[k++] = alphabetCodes[(triple >> 6) & 63]!;
    out[k++] = alphabetCodes[triple & 63]!;
  }
  if (n - i === 1) {
    const b = latin1At(s, i);
    out[k++] = alphabetCodes[b >> 2]!;
    out[k++] = alphabetCodes[(b & 3) << 4]!;
    out[k++] = 0x3d;
    out[k++] = 0x3d;
  } else if (n - i === 2) {
    const pair = (latin1At(s, i) << 8) | latin1At(s, i + 1);
    out[k++] = alphabetCodes[pair >> 10]!;
    out[k++] = alphabetCodes[(pair >> 4) & 63]!;
    out[k++] = alphabetCodes[(pair & 15) << 2]!;
    out[k++] = 0x3d;
  }
  return bytesToString(out, k);
}

function latin1At(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c > 0xff) throw invalidCharacter('The string to be encoded contains characters outside of the Latin1 range.');
  return c;
}
