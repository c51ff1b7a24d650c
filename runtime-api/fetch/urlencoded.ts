// URL §5.1 "application/x-www-form-urlencoded parsing", for formData(). It runs on
// the body's bytes: URLSearchParams parses a string, and decoding the body first
// would split UTF-8 sequences that a percent-decoded byte completes (E2 82 %AC is €).
import { percentDecodeBytes } from 'whatwg-url';
import { runUtf8Decoder, Utf8Decoder } from '../encoding/utf8.ts';

const ampersand = 0x26;
const equalsSign = 0x3d;
const plusSign = 0x2b;
const space = 0x20;

/** Replace + with a space, percent-decode, then "UTF-8 decode without BOM". */
function decodeComponent(bytes: Uint8Array): string {
  const spaced = bytes.map((byte) => (byte === plusSign ? space : byte));
  return runUtf8Decoder(new Utf8Decoder(), percentDecodeBytes(spaced), true, false);
}

/** The name-value tuples of input, in order; empty sequences between '&'s are skipped. */
export function parseURLEncoded(input: Uint8Array): [name: string, value: string][] {
  const output: [string, string][] = [];
  for (let start = 0; start <= input.length; ) {
    let end = input.indexOf(ampersand, start);
    if (end < 0) end = input.length;
    if (end > start) {
      const bytes = input.subarray(start, end);
      const separator = bytes.indexOf(equalsSign);
      const name = separator < 0 ? bytes : bytes.subarray(0, separator);
      const value = separator < 0 ? bytes.subarray(bytes.length) : bytes.subarray(separator + 1);
      output.push([decodeComponent(name), decodeComponent(value)]);
    }
    start = end + 1;
  }
  return output;
}
