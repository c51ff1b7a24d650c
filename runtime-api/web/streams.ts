// WHATWG Streams, from web-streams-polyfill's ponyfill (a port of the spec's
// reference implementation; it installs no globals), plus the few abstract
// operations Fetch needs and the Encoding standard's stream classes.
import { ReadableByteStreamController, ReadableStream, ReadableStreamBYOBRequest } from 'web-streams-polyfill';
import { nullProto } from '../webidl/null-prototype.ts';

export {
  ByteLengthQueuingStrategy, CountQueuingStrategy, ReadableByteStreamController, ReadableStream, ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest, ReadableStreamDefaultController, ReadableStreamDefaultReader, TransformStream,
  TransformStreamDefaultController, WritableStream, WritableStreamDefaultController, WritableStreamDefaultWriter,
} from 'web-streams-polyfill';
export { TextDecoderStream, TextEncoderStream } from './text-streams.ts';

/**
 * A strategy of highWaterMark 0 (pull runs on the first read), for the streams the runtime makes.
 * The ponyfill reads a strategy's `size` too: with no prototype, one a tenant gave Object.prototype
 * is not read as this one's. One object for every stream, as bodies make one per request.
 */
export const PULL_ON_FIRST_READ: { readonly highWaterMark: number; readonly size?: undefined } = Object.freeze(nullProto({ highWaterMark: 0 }));

// Taken at load, before tenant code could replace it. Its brand check throws for anything but a ReadableStream.
const lockedGetter = Object.getOwnPropertyDescriptor(ReadableStream.prototype, 'locked')!.get!;

/** WebIDL's brand check for ReadableStream, which the ponyfill keeps to itself. */
export function isReadableStream(value: unknown): value is ReadableStream {
  if (typeof value !== 'object' || value === null) return false;
  try {
    Reflect.apply(lockedGetter, value, []);
    return true;
  } catch {
    return false;
  }
}

/** Streams §4.9.2 IsReadableStreamLocked. */
export function isReadableStreamLocked(stream: ReadableStream): boolean {
  return Reflect.apply(lockedGetter, stream, []) as boolean;
}

/**
 * Streams' [[disturbed]] slot: read from or cancelled. Fetch's bodyUsed needs
 * it and the public API does not expose it; the ponyfill keeps it as _disturbed.
 */
export function isReadableStreamDisturbed(stream: ReadableStream): boolean {
  return (stream as unknown as { _disturbed: boolean })._disturbed;
}

// Taken at load, like lockedGetter.
const byteClose = ReadableByteStreamController.prototype.close;
const byobRequestGetter = Object.getOwnPropertyDescriptor(ReadableByteStreamController.prototype, 'byobRequest')!.get!;
const byobRespond = ReadableStreamBYOBRequest.prototype.respond;

/**
 * Closes a byte stream the runtime made. A BYOB read waiting at that moment is only answered
 * (done) once the source responds to its request with 0 bytes (Streams §4.7.4 close(): "the
 * underlying byte source must respond to it"); without that, the reader waits forever.
 */
export function closeByteStream(controller: ReadableByteStreamController): void {
  Reflect.apply(byteClose, controller, []);
  const request = Reflect.apply(byobRequestGetter, controller, []) as ReadableStreamBYOBRequest | null;
  if (request !== null) Reflect.apply(byobRespond, request, [0]);
}

/**
 * The lengths streams declared they will carry: FixedLengthStreams' readable sides
 * (identity-streams.ts) and the streams the runtime makes over bytes it holds or the host
 * announced (fetch/body.ts). A Response with one as its body goes out with that Content-Length
 * (and the host cuts a body that does not keep to it: engine/tiers/streamed-body.ts).
 */
const declaredLengths = new WeakMap<ReadableStream<Uint8Array>, number>();

export function declareStreamLength(stream: ReadableStream<Uint8Array>, length: number): void {
  declaredLengths.set(stream, length);
}

/** The length `stream` declared it will carry, if it declared one. */
export function declaredStreamLength(stream: ReadableStream<Uint8Array>): number | undefined {
  return declaredLengths.get(stream);
}
