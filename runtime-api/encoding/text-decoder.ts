// Encoding standard "Interface TextDecoder". UTF-8 and UTF-16LE are decoded here; the legacy
// encodings (windows-1252, Shift_JIS, GBK…) by the host (engine/tiers/isolate/legacy-text.ts),
// whose TextDecoder implements the same standard: their tables would cost every isolate memory.
import { host } from '../host/host-calls.ts';
import { copyOfRange, viewByteLength } from '../web/plain-bytes.ts';
import { defineInterface, toDictionary, toDOMString, viewBufferSource } from '../webidl/index.ts';
import { runUtf16leDecoder, runUtf8Decoder, Utf16leDecoder, Utf8Decoder } from './utf8.ts';

// Encoding "Names and labels", for the two encodings we decode.
const labels = new Map<string, 'utf-8' | 'utf-16le'>([
  ['unicode-1-1-utf-8', 'utf-8'],
  ['unicode11utf8', 'utf-8'],
  ['unicode20utf8', 'utf-8'],
  ['utf-8', 'utf-8'],
  ['utf8', 'utf-8'],
  ['x-unicode20utf8', 'utf-8'],
  ['csunicode', 'utf-16le'],
  ['iso-10646-ucs-2', 'utf-16le'],
  ['ucs-2', 'utf-16le'],
  ['unicode', 'utf-16le'],
  ['unicodefeff', 'utf-16le'],
  ['utf-16', 'utf-16le'],
  ['utf-16le', 'utf-16le'],
]);

const asciiWhitespace = /^[\t\n\f\r ]+|[\t\n\f\r ]+$/g;
const { apply } = Reflect;
const { replace, slice, toLowerCase } = String.prototype;
/** Longer than any label the Encoding standard has (after its whitespace is trimmed). */
const MAX_LABEL_CHARS = 64;

/**
 * Encoding "get an encoding": the labels above here, the others from the host. A label goes to
 * the host (copied, then read synchronously there) only if it could be one, and it is trimmed
 * with the String methods there were at load: a 512 MB label stalled the host's loop 1.5 s.
 */
function getAnEncoding(label: string): string | undefined {
  if (label.length > MAX_LABEL_CHARS * 4) return undefined;
  const trimmed = apply(replace, label, [asciiWhitespace, '']) as string;
  if (typeof trimmed !== 'string' || trimmed.length > MAX_LABEL_CHARS) return undefined;
  // ASCII letters only: toLowerCase would make the Kelvin sign a "k".
  const lower = apply(replace, trimmed, [/[A-Z]+/g, (s: string) => apply(toLowerCase, s, []) as string]) as string;
  if (typeof lower !== 'string') return undefined;
  const local = labels.get(lower);
  if (local !== undefined) return local;
  let calls;
  try {
    calls = host();
  } catch {
    return undefined; // outside an isolate (the snapshot's build, unit tests): these two only
  }
  return calls.encodingOf(lower) ?? undefined;
}

let nextLegacyId = 1;

const noBytes = new Uint8Array(0);

/** Bytes one legacy decoding host call takes (engine/tiers/isolate/legacy-text.ts holds it to that). */
const LEGACY_PIECE_BYTES = 256 * 1024;

export class TextDecoder {
  #encoding: string;
  /** null for a legacy encoding, which the host decodes as decoder #legacyId. */
  #decoder: Utf8Decoder | Utf16leDecoder | null;
  #legacyId = 0;
  #fatal: boolean;
  #ignoreBOM: boolean;
  #bomSeen = false;
  #doNotFlush = false;

  constructor(label: unknown = 'utf-8', options: unknown = undefined) {
    const name = toDOMString(label);
    const dict = toDictionary(options, "Failed to construct 'TextDecoder'");
    const encoding = getAnEncoding(name);
    // "replacement" is a name the standard gives labels that must not be decoded (XSS vectors).
    if (encoding === undefined || encoding === 'replacement') {
      throw new RangeError(`Failed to construct 'TextDecoder': the encoding label '${name.length > MAX_LABEL_CHARS ? `${apply(slice, name, [0, MAX_LABEL_CHARS]) as string}…` : name}' is not supported`);
    }
    this.#fatal = dict === undefined ? false : Boolean(dict.fatal);
    this.#ignoreBOM = dict === undefined ? false : Boolean(dict.ignoreBOM);
    this.#encoding = encoding;
    this.#decoder = encoding === 'utf-8' ? new Utf8Decoder() : encoding === 'utf-16le' ? new Utf16leDecoder() : null;
    if (this.#decoder === null) this.#legacyId = nextLegacyId++;
  }

  get encoding(): string {
    return this.#encoding;
  }

  get fatal(): boolean {
    return this.#fatal;
  }

  get ignoreBOM(): boolean {
    return this.#ignoreBOM;
  }

  /** Encoding TextDecoder decode(input, options). */
  decode(input: unknown = undefined, options: unknown = undefined): string {
    let bytes: Uint8Array = noBytes;
    if (input !== undefined) {
      const view = viewBufferSource(input, true, "Failed to execute 'decode' on 'TextDecoder'");
      if (view === null) {
        throw new TypeError("Failed to execute 'decode' on 'TextDecoder': the input is not an ArrayBuffer or ArrayBufferView");
      }
      bytes = view;
    }
    const dict = toDictionary(options, "Failed to execute 'decode' on 'TextDecoder'");
    const stream = dict === undefined ? false : Boolean(dict.stream);
    const decoder = this.#decoder;
    if (decoder === null) {
      // A copy of the view's bytes crosses to the host, whose decoder keeps a stream's state. A
      // host call runs on the engine's event loop, so it takes LEGACY_PIECE_BYTES at most: more
      // goes as pieces of one stream, and other tenants' I/O runs between them.
      // Pieces cut with the getters there were at load (plain-bytes.ts): a replaced slice or
      // buffer getter could otherwise hand the call anything to copy.
      let out = '';
      const length = viewByteLength(bytes, "Failed to execute 'decode' on 'TextDecoder'");
      for (let at = 0; ; at += LEGACY_PIECE_BYTES) {
        const last = at + LEGACY_PIECE_BYTES >= length;
        const piece = copyOfRange(bytes, at, at + LEGACY_PIECE_BYTES, "Failed to execute 'decode' on 'TextDecoder'");
        const [ok, text] = host().decodeLegacy(this.#legacyId, this.#encoding, piece, last ? stream : true, this.#fatal, this.#ignoreBOM);
        if (!ok) throw new TypeError(`Failed to execute 'decode' on 'TextDecoder': ${text}`);
        out += text;
        if (last) return out;
      }
    }
    if (!this.#doNotFlush) {
      decoder.reset();
      this.#bomSeen = false;
    }
    this.#doNotFlush = stream;
    let output: string;
    try {
      output =
        decoder instanceof Utf8Decoder
          ? runUtf8Decoder(decoder, bytes, !stream, this.#fatal)
          : runUtf16leDecoder(decoder, bytes, !stream, this.#fatal);
    } catch (error) {
      // A fatal error ends the stream: the next call starts afresh, as in browsers.
      this.#doNotFlush = false;
      throw error;
    }
    // Encoding "serialize I/O queue": only the first code point can be the BOM.
    if (!this.#ignoreBOM && !this.#bomSeen && output.length > 0) {
      this.#bomSeen = true;
      if (output.charCodeAt(0) === 0xfeff) output = output.slice(1);
    }
    return output;
  }
}

defineInterface(TextDecoder, 'TextDecoder');
