// The Encoding standard's legacy encodings (windows-1252, ISO-8859-x, KOI8, Shift_JIS, GBK,
// Big5, EUC-*, ISO-2022-JP, UTF-16BE…) for TextDecoder in isolates. Their index tables are large
// and rarely used, so they stay out of the runtime every isolate holds: the isolate asks the host,
// whose TextDecoder (ICU) implements the same standard. A decoder reading a stream keeps its state
// here between calls, per isolate.

/** Bytes one call decodes (16 MB of Big5 held the loop ~120 ms in one call). */
const LEGACY_PIECE_BYTES = 256 * 1024;

/** Streaming legacy decoders one isolate may have open at once (each holds a little ICU state). */
const MAX_STREAMING_DECODERS = 256;

/** Encoding "get an encoding": the encoding's name for `label`, or null when it names none. */
export function legacyEncodingOf(label: string): string | null {
  // The runtime sends only labels that could be one (text-decoder.ts); this holds if it did not.
  if (typeof label !== 'string' || label.length > 256) return null;
  try {
    return new TextDecoder(String(label)).encoding;
  } catch {
    return null;
  }
}

export type LegacyDecodeResult = [ok: true, text: string] | [ok: false, message: string];

export class LegacyDecoders {
  readonly #streaming = new Map<number, InstanceType<typeof TextDecoder>>();

  /**
   * Runs decoder `id` (the isolate's TextDecoder) over `bytes`. With `stream` its state stays for
   * the next call; without, the call ends the stream. A fatal error ends it too.
   */
  decode(id: number, encoding: string, bytes: unknown, stream: boolean, fatal: boolean, ignoreBOM: boolean): LegacyDecodeResult {
    if (!(bytes instanceof ArrayBuffer)) return [false, 'TextDecoder: the runtime sent no bytes'];
    // This runs on the engine's event loop: the runtime sends big inputs in pieces of this size.
    if (bytes.byteLength > LEGACY_PIECE_BYTES) return [false, `TextDecoder: more than ${LEGACY_PIECE_BYTES} bytes in one piece`];
    let decoder = this.#streaming.get(id);
    if (!decoder) {
      if (stream && this.#streaming.size >= MAX_STREAMING_DECODERS) {
        return [false, `TextDecoder: more than ${MAX_STREAMING_DECODERS} ${encoding} decoders are reading streams at once`];
      }
      try {
        decoder = new TextDecoder(String(encoding), { fatal: fatal === true, ignoreBOM: ignoreBOM === true });
      } catch {
        return [false, `TextDecoder: the encoding ${JSON.stringify(encoding)} is not supported`];
      }
    }
    try {
      const text = decoder.decode(new Uint8Array(bytes), { stream: stream === true });
      if (stream === true) this.#streaming.set(id, decoder);
      else this.#streaming.delete(id);
      return [true, text];
    } catch {
      this.#streaming.delete(id);
      return [false, `TextDecoder: the data is not valid ${encoding}`];
    }
  }

  clear(): void {
    this.#streaming.clear();
  }
}
