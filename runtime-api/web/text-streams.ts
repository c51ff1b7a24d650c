// Encoding §7 "Interface mixin GenericTransformStream": TextEncoderStream and
// TextDecoderStream, TransformStreams around the encoder and the decoder in
// streaming mode, so a multi-byte sequence or surrogate pair split across
// chunks comes out whole.
import { type ReadableStream, type Transformer, TransformStream, type WritableStream } from 'web-streams-polyfill';
import { TextDecoder } from '../encoding/text-decoder.ts';
import { utf8Encode } from '../encoding/utf8.ts';
import { defineInterface, nullProto, toDOMString } from '../webidl/index.ts';

const replacementBytes = Uint8Array.of(0xef, 0xbf, 0xbd);

function isLeadingSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

export class TextEncoderStream {
  #transform: TransformStream<unknown, Uint8Array<ArrayBuffer>>;

  constructor() {
    // Encoding §7.2 "encoder's leading surrogate": held back until the next chunk shows whether it pairs.
    let leadingSurrogate = '';
    this.#transform = new TransformStream<unknown, Uint8Array<ArrayBuffer>>(nullProto<Transformer<unknown, Uint8Array<ArrayBuffer>>>({
      transform(chunk, controller) {
        let input = leadingSurrogate + toDOMString(chunk);
        leadingSurrogate = '';
        if (input.length > 0 && isLeadingSurrogate(input.charCodeAt(input.length - 1))) {
          leadingSurrogate = input.slice(-1);
          input = input.slice(0, -1);
        }
        // utf8Encode writes a lone surrogate as U+FFFD, as "encode and enqueue a chunk" does.
        if (input.length > 0) controller.enqueue(utf8Encode(input) as Uint8Array<ArrayBuffer>);
      },
      flush(controller) {
        // "encode and flush": a leading surrogate left over is U+FFFD.
        if (leadingSurrogate !== '') controller.enqueue(replacementBytes.slice());
      },
    }));
  }

  get encoding(): 'utf-8' {
    return 'utf-8';
  }

  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return this.#transform.readable;
  }

  get writable(): WritableStream<unknown> {
    return this.#transform.writable;
  }
}

defineInterface(TextEncoderStream, 'TextEncoderStream');

export class TextDecoderStream {
  #decoder: TextDecoder;
  #transform: TransformStream<unknown, string>;

  constructor(label: unknown = 'utf-8', options: unknown = undefined) {
    // TextDecoder does the label and options conversions and throws as the spec's constructor does.
    const decoder = new TextDecoder(label, options);
    this.#decoder = decoder;
    this.#transform = new TransformStream<unknown, string>(nullProto<Transformer<unknown, string>>({
      // "decode and enqueue a chunk": decode() converts the chunk as BufferSource and throws a TypeError if fatal.
      transform(chunk, controller) {
        // decode() reads a missing input as empty; a chunk must be a BufferSource.
        if (chunk === undefined) throw new TypeError("Failed to execute 'transform' on 'TextDecoderStream': the chunk is undefined");
        const output = decoder.decode(chunk, { stream: true });
        if (output !== '') controller.enqueue(output);
      },
      flush(controller) {
        const output = decoder.decode();
        if (output !== '') controller.enqueue(output);
      },
    }));
  }

  get encoding(): string {
    return this.#decoder.encoding;
  }

  get fatal(): boolean {
    return this.#decoder.fatal;
  }

  get ignoreBOM(): boolean {
    return this.#decoder.ignoreBOM;
  }

  get readable(): ReadableStream<string> {
    return this.#transform.readable;
  }

  get writable(): WritableStream<unknown> {
    return this.#transform.writable;
  }
}

defineInterface(TextDecoderStream, 'TextDecoderStream');
