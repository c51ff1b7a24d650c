// Compression §5 CompressionStream and §6 DecompressionStream: TransformStreams of BufferSource
// chunks to Uint8Array chunks, in "deflate", "deflate-raw" or "gzip" (codecs.ts). The work runs in
// the isolate, under the tenant's CPU and memory limits: a decompression bomb fills the tenant's
// heap, not the host's.
//
// Defined on first use (runtime-api/index.ts, lazyGlobals), inside a function as the event
// interfaces are, and the codecs are loaded by the first stream made: `typeof CompressionStream`
// alone does not evaluate fflate.
import { type ReadableStream, type Transformer, TransformStream, type WritableStream } from 'web-streams-polyfill';
import { defineInterface, nullProto, requireArguments, toEnum, viewBufferSource } from '../webidl/index.ts';
import type { Codec, CompressionFormat } from './codecs.ts';

type Codecs = Pick<typeof import('./codecs.ts'), 'compressor' | 'decompressor'>;

// §3 "enum CompressionFormat".
const FORMATS: readonly CompressionFormat[] = ['deflate', 'deflate-raw', 'gzip'];

/** A TransformStream that hands each chunk, as a BufferSource, to the codec. */
function codecTransform(codec: Codec, where: string): TransformStream<unknown, Uint8Array<ArrayBuffer>> {
  return new TransformStream<unknown, Uint8Array<ArrayBuffer>>(nullProto<Transformer<unknown, Uint8Array<ArrayBuffer>>>({
    transform(chunk, controller) {
      // "If chunk is not a BufferSource type, then throw a TypeError."
      const bytes = viewBufferSource(chunk, false, where);
      if (bytes === null) throw new TypeError(`${where}: the chunk is not an ArrayBuffer or ArrayBufferView`);
      codec.write(bytes, (output) => controller.enqueue(output));
    },
    flush(controller) {
      codec.close((output) => controller.enqueue(output));
    },
  }));
}

/** Makes the two interfaces; called once per isolate, on first use of either. */
export function defineCompressionStreams(loadCodecs: () => Codecs) {
  let codecs: Codecs | undefined;

  class CompressionStream {
    #transform: TransformStream<unknown, Uint8Array<ArrayBuffer>>;

    constructor(format: CompressionFormat) {
      requireArguments(arguments.length, 1, "Failed to construct 'CompressionStream'");
      // "If format is unsupported in CompressionStream, then throw a TypeError": the enum conversion does.
      const f = toEnum(format, FORMATS, "Failed to construct 'CompressionStream'");
      codecs ??= loadCodecs();
      this.#transform = codecTransform(codecs.compressor(f), "Failed to execute 'write' on 'CompressionStream'");
    }

    get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
      return this.#transform.readable;
    }

    get writable(): WritableStream<unknown> {
      return this.#transform.writable;
    }
  }

  class DecompressionStream {
    #transform: TransformStream<unknown, Uint8Array<ArrayBuffer>>;

    constructor(format: CompressionFormat) {
      requireArguments(arguments.length, 1, "Failed to construct 'DecompressionStream'");
      const f = toEnum(format, FORMATS, "Failed to construct 'DecompressionStream'");
      codecs ??= loadCodecs();
      this.#transform = codecTransform(codecs.decompressor(f), "Failed to execute 'write' on 'DecompressionStream'");
    }

    get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
      return this.#transform.readable;
    }

    get writable(): WritableStream<unknown> {
      return this.#transform.writable;
    }
  }

  defineInterface(CompressionStream, 'CompressionStream');
  defineInterface(DecompressionStream, 'DecompressionStream');
  return { CompressionStream, DecompressionStream };
}
