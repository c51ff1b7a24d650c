// Encoding standard "Interface TextEncoder".
import { defineInterface, requireArguments, toUSVString, typedArrayName } from '../webidl/index.ts';
import { utf8Encode, utf8EncodeInto } from './utf8.ts';

export interface TextEncoderEncodeIntoResult {
  read: number;
  written: number;
}

export class TextEncoder {
  get encoding(): 'utf-8' {
    return 'utf-8';
  }

  encode(input: unknown = ''): Uint8Array<ArrayBuffer> {
    return utf8Encode(toUSVString(input)) as Uint8Array<ArrayBuffer>;
  }

  encodeInto(source: unknown, destination: Uint8Array): TextEncoderEncodeIntoResult {
    requireArguments(arguments.length, 2, "Failed to execute 'encodeInto' on 'TextEncoder'");
    const s = toUSVString(source);
    if (typedArrayName(destination) !== 'Uint8Array') {
      throw new TypeError("Failed to execute 'encodeInto' on 'TextEncoder': parameter 2 is not of type 'Uint8Array'");
    }
    return utf8EncodeInto(s, destination);
  }
}

defineInterface(TextEncoder, 'TextEncoder');
