// TextEncoder and TextDecoder on the global object before anything else loads: whatwg-url builds
// its encoder and decoder when its module is evaluated, and a bare isolate has neither.
import { TextDecoder } from './encoding/text-decoder.ts';
import { TextEncoder } from './encoding/text-encoder.ts';
import { nullProto } from './webidl/null-prototype.ts';

for (const [name, value] of Object.entries({ TextEncoder, TextDecoder })) {
  Object.defineProperty(globalThis, name, nullProto({ value, writable: true, configurable: true, enumerable: false }));
}
