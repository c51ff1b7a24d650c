// Fetch §5.2 "BodyInit unions" (extract a body) and §5.3 "Body mixin". A body
// keeps its source (a string stays a string, so text() and the wire never
// round-trip it through UTF-8) and makes its stream only when `body` is read;
// a ReadableStream body has a stream and no source, and is read chunk by chunk.
import { utf8Decode, utf8Encode, utf8Length } from '../encoding/utf8.ts';
import { joinBytes } from '../web/bytes.ts';
// The files themselves, not web/index.ts, which re-exports this module.
import { type Blob, blobBytes, blobType, createBlob, isBlob, printableBlobType } from '../web/blob.ts';
import { createFormData, type FormData, formDataEntryList, isFormData } from '../web/form-data.ts';
import {
  closeByteStream, declaredStreamLength, declareStreamLength, isReadableStream, isReadableStreamDisturbed, isReadableStreamLocked, PULL_ON_FIRST_READ,
  ReadableStream, ReadableStreamDefaultReader, TransformStream,
} from '../web/streams.ts';
import { isArrayBuffer, nullProto, toUSVString, typedArrayName, viewBufferSource } from '../webidl/index.ts';
import { Headers } from './headers.ts';
import { extractMimeType, essence, type MimeType, serializeMimeType } from './mime-type.ts';
import { encodeMultipartFormData, parseMultipartFormData } from './multipart.ts';
import { parseURLEncoded } from './urlencoded.ts';

/** Fetch "body": its source, its stream once there is one, and whether islet itself consumed it. */
export interface Body {
  /**
   * A scalar value string, or bytes whose whole ArrayBuffer belongs to this body
   * alone; null when the stream holds the bytes (a ReadableStream body, or a
   * made stream that was pulled).
   */
  source: string | Uint8Array<ArrayBuffer> | null;
  /** Fetch body's "stream": the tenant's, or made on the first `body` get. */
  stream: ReadableStream<Uint8Array> | null;
  /** Read, moved to another body, or sent by islet; a tenant reading the stream shows in its [[disturbed]]. */
  used: boolean;
}

export interface BodyWithType {
  body: Body;
  type: string | null;
}

/** The Body mixin's members, for the TypeScript types of Request and Response. */
export interface BodyMixin {
  readonly body: ReadableStream<Uint8Array> | null;
  readonly bodyUsed: boolean;
  arrayBuffer(): Promise<ArrayBuffer>;
  blob(): Promise<Blob>;
  bytes(): Promise<Uint8Array<ArrayBuffer>>;
  formData(): Promise<FormData>;
  json(): Promise<unknown>;
  text(): Promise<string>;
}

export type BodyInit =
  | string | ArrayBuffer | ArrayBufferView | SharedArrayBuffer | Blob | FormData | URLSearchParamsLike | ReadableStream<Uint8Array>;
interface URLSearchParamsLike {
  readonly [Symbol.toStringTag]: 'URLSearchParams';
}

/**
 * URLSearchParams comes from whatwg-url, which this module does not import:
 * its @@toStringTag is the check (a look-alike only gets its own toString() sent).
 */
export function isURLSearchParams(value: object): boolean {
  return Object.prototype.toString.call(value) === '[object URLSearchParams]';
}

/** Fetch §5.2 "extract a body" from a non-null BodyInit, converting it as WebIDL's union would. */
export function extractBody(object: unknown, where: string): BodyWithType {
  if (typeof object === 'object' && object !== null) {
    if (isBlob(object)) {
      // A blob's bytes are shared with slices and files, and the body's must be its own.
      const type = blobType(object);
      return { body: sourceBody(new Uint8Array(blobBytes(object))), type: type === '' ? null : type };
    }
    if (isReadableStream(object)) {
      if (isReadableStreamLocked(object) || isReadableStreamDisturbed(object)) {
        throw new TypeError(`${where}: the ReadableStream is locked or has already been read`);
      }
      return { body: { source: null, stream: object as ReadableStream<Uint8Array>, used: false }, type: null };
    }
    if (isFormData(object)) {
      const { bytes, boundary } = encodeMultipartFormData(formDataEntryList(object));
      return { body: sourceBody(bytes), type: `multipart/form-data; boundary=${boundary}` };
    }
    const view = viewBufferSource(object, false, where);
    // The spec copies a buffer source's bytes here; later changes to it do not count.
    if (view !== null) return { body: sourceBody(new Uint8Array(view)), type: null };
    if (isURLSearchParams(object)) {
      return { body: sourceBody(String(object)), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
    }
  }
  return { body: sourceBody(toUSVString(object)), type: 'text/plain;charset=UTF-8' };
}

function sourceBody(source: string | Uint8Array<ArrayBuffer>): Body {
  return { source, stream: null, used: false };
}

/** A body for a string the caller knows is well-formed (JSON.stringify output, say). */
export function bodyFromString(source: string): Body {
  return sourceBody(source);
}

/** A body over bytes the caller gives up (an ArrayBuffer from the wire). */
export function bodyFromBytes(buffer: ArrayBuffer): Body {
  return sourceBody(new Uint8Array(buffer));
}

/**
 * A body that is a stream the runtime made (a streamed request body), for the tenant to read;
 * `length` is what it will carry when the host knows (a request's Content-Length, which the
 * host's parser holds the client to), so that passing it on keeps its length.
 */
export function bodyFromStream(stream: ReadableStream<Uint8Array>, length?: number): Body {
  if (length !== undefined) declareStreamLength(stream, length);
  return { source: null, stream, used: false };
}

/** Fetch §5.3: an object is "unusable" when its body is non-null and disturbed. */
export function isUnusable(body: Body | null): boolean {
  return body !== null && isDisturbed(body);
}

function isDisturbed(body: Body): boolean {
  return body.used || (body.stream !== null && isReadableStreamDisturbed(body.stream));
}

// Taken at load, before tenant code could replace them.
const getReader = ReadableStream.prototype.getReader as (this: ReadableStream<Uint8Array>) => ReadableStreamDefaultReader<Uint8Array>;
const read = ReadableStreamDefaultReader.prototype.read as (this: ReadableStreamDefaultReader<Uint8Array>) => Promise<ReadableStreamReadResult<Uint8Array>>;
const cancel = ReadableStreamDefaultReader.prototype.cancel;
const tee = ReadableStream.prototype.tee as (this: ReadableStream<Uint8Array>) => [ReadableStream<Uint8Array>, ReadableStream<Uint8Array>];
const pipeThrough = ReadableStream.prototype.pipeThrough;

type ReadableStreamReadResult<T> = { done: false; value: T } | { done: true; value?: undefined };

/**
 * The source can be taken without the stream while nobody has the stream's
 * bytes: there is no stream yet, or the one made for `body` was never locked
 * or read (its pull, which hands the source over, has not run).
 */
function canTakeSource(body: Body): boolean {
  const stream = body.stream;
  return body.source !== null && (stream === null || (!isReadableStreamLocked(stream) && !isReadableStreamDisturbed(stream)));
}

/** True when reading the body means reading its stream, so only the async paths can. */
export function hasStreamBody(body: Body | null): boolean {
  return body !== null && !isDisturbed(body) && !canTakeSource(body);
}

/** Fetch body's stream, for the `body` getter: made once, over the source, when first asked for. */
function bodyStream(body: Body): ReadableStream<Uint8Array> {
  if (body.stream !== null) return body.stream;
  if (body.used) {
    // What consume body left behind: locked by its reader, and disturbed.
    const stream = new ReadableStream<Uint8Array>(nullProto({ type: 'bytes' }));
    void Reflect.apply(cancel, Reflect.apply(getReader, stream, []), []);
    body.stream = stream;
    return stream;
  }
  // highWaterMark 0: pull runs on the first read, so until then the source can still be taken without a copy.
  // Held here too: clone and proxy let go of body.source before a tee or pipe pulls.
  // A byte stream, as Fetch sets bodies up "with byte reading support": BYOB readers work, and
  // enqueue moves the source's buffer into the stream, which it can since the body owns it.
  let pending = body.source;
  body.stream = new ReadableStream<Uint8Array>(
    nullProto({
      type: 'bytes',
      pull(controller) {
        const source = pending;
        pending = null;
        body.source = null;
        if (source !== null && source.length > 0) {
          controller.enqueue(typeof source === 'string' ? utf8Encode(source) : source);
        }
        closeByteStream(controller);
      },
    }),
    PULL_ON_FIRST_READ,
  );
  // Its length is known, as workerd knows it: `new Response(response.body, response)`, the usual
  // way to pass a fetched body on with other headers, goes out with a Content-Length, not chunked.
  declareStreamLength(body.stream, pending === null ? 0 : typeof pending === 'string' ? utf8Length(pending) : pending.length);
  return body.stream;
}

/** Fetch "clone a body": bytes are copied so each body still owns its buffer; a stream is teed. */
export function cloneBody(body: Body): Body {
  const source = body.source;
  if (body.stream === null && source !== null) {
    return sourceBody(typeof source === 'string' ? source : new Uint8Array(source));
  }
  const stream = bodyStream(body);
  const [out1, out2] = Reflect.apply(tee, stream, []) as [ReadableStream<Uint8Array>, ReadableStream<Uint8Array>];
  // Each branch carries all of what the stream does (clone needs it unread).
  const length = declaredStreamLength(stream);
  if (length !== undefined) {
    declareStreamLength(out1, length);
    declareStreamLength(out2, length);
  }
  body.stream = out1;
  body.source = null;
  return { source: null, stream: out2, used: false };
}

/**
 * Fetch §5.4 "creating a proxy" for an input request's body: the new body takes
 * the source, or a stream piped from the old one; the old one is disturbed.
 */
export function proxyBody(body: Body): Body {
  if (canTakeSource(body)) return sourceBody(takeSource(body));
  const identity = new TransformStream<Uint8Array, Uint8Array>();
  const stream = Reflect.apply(pipeThrough, body.stream, [identity]) as ReadableStream<Uint8Array>;
  body.used = true;
  return { source: null, stream, used: false };
}

function usedError(): TypeError {
  return new TypeError('The body has already been used');
}

/**
 * Marks the body used and returns its source; the body lets go of it, so bytes
 * can be handed out without a copy. A made stream is locked and cancelled, as
 * reading it would have left it.
 */
function takeSource(body: Body): string | Uint8Array<ArrayBuffer> {
  if (isDisturbed(body)) throw usedError();
  body.used = true;
  const source = body.source!;
  body.source = null;
  if (body.stream !== null) void Reflect.apply(cancel, Reflect.apply(getReader, body.stream, []), []);
  return source;
}

/** Locks the body's stream to a reader of ours and marks the body used; a used or locked one is a TypeError. */
function takeReader(body: Body): ReadableStreamDefaultReader<Uint8Array> {
  if (isDisturbed(body)) throw usedError();
  const stream = body.stream!;
  if (isReadableStreamLocked(stream)) throw new TypeError('The body stream is locked');
  const reader = Reflect.apply(getReader, stream, []) as ReadableStreamDefaultReader<Uint8Array>;
  body.used = true;
  body.source = null;
  return reader;
}

/**
 * The next chunk of a body stream, null at its end. Fetch takes Uint8Arrays only; workerd takes
 * any ArrayBuffer or view (a stream of `await blob.arrayBuffer()` chunks, DataViews), and code
 * written for Workers relies on it, so islet does too. Anything else (a string) is a TypeError,
 * as on both.
 */
function nextChunk(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array | null> {
  return (Reflect.apply(read, reader, []) as Promise<ReadableStreamReadResult<Uint8Array>>).then((result) => {
    if (result.done) return null;
    const view = viewBufferSource(result.value, true, 'The body stream');
    if (view === null) throw new TypeError('The body stream gave a chunk that is not an ArrayBuffer or a view of one');
    return view;
  });
}

/**
 * Fetch "fully read" a body's stream (Streams "read all bytes"): the reader is
 * taken now, so a locked stream throws and the stream is locked at once.
 */
function readStream(body: Body): Promise<Uint8Array<ArrayBuffer>> {
  const reader = takeReader(body);
  const chunks: Uint8Array[] = [];
  let length = 0;
  const step = (chunk: Uint8Array | null): Uint8Array<ArrayBuffer> | Promise<Uint8Array<ArrayBuffer>> => {
    // Copied into one buffer the body owns: a chunk may be a view the tenant still holds.
    if (chunk === null) return joinBytes(chunks, length);
    chunks.push(chunk);
    length += chunk.length;
    return nextChunk(reader).then(step);
  };
  return nextChunk(reader).then(step);
}

/** Reads a body stream chunk by chunk: the next chunk's bytes, or null at the end. */
export interface ChunkReader {
  /** The bytes the stream declared it will carry (a FixedLengthStream's), else null. */
  readonly length: number | null;
  next(): Promise<ArrayBuffer | null>;
  cancel(reason?: unknown): void;
}

/**
 * The next chunk of a body stream being sent, null at its end. Any BufferSource goes, as workerd
 * sends it (a chunk from `await blob.arrayBuffer()`, a DataView), and so does a string, as UTF-8:
 * workerd sends those too, and server-sent events code written for it enqueues strings
 * (`controller.enqueue('data: …\n\n')`, `writer.write(…)` on a TransformStream). Reading such a
 * body with text() and the like is still a TypeError, on both.
 */
function nextChunkToSend(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array | null> {
  return (Reflect.apply(read, reader, []) as Promise<ReadableStreamReadResult<Uint8Array>>).then((result) => {
    if (result.done) return null;
    const chunk = result.value as unknown;
    if (typeof chunk === 'string') return utf8Encode(chunk);
    const view = viewBufferSource(chunk, false, 'The body stream');
    if (view === null) throw new TypeError('The body stream gave a chunk that is not a string, an ArrayBuffer or a view of one');
    return view;
  });
}

/**
 * Takes the body's stream for sending as it is produced (the response streams to the socket).
 * Marks the body used, like readStream.
 */
export function bodyChunkReader(body: Body): ChunkReader {
  const length = body.stream === null ? undefined : declaredStreamLength(body.stream);
  const reader = takeReader(body);
  return {
    length: length ?? null,
    next: () => nextChunkToSend(reader).then((view) => {
      if (view === null) return null;
      // The host call copies what it is given, when it is called: a view of a whole buffer goes
      // as that buffer (one copy); a view of part of one is cut out first, or the copy would
      // carry the whole buffer.
      return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && isArrayBuffer(view.buffer)
        ? view.buffer : view.slice().buffer;
    }),
    cancel: (reason) => void (Reflect.apply(cancel, reader, [reason]) as Promise<void>).catch(() => {}),
  };
}


/**
 * The body as the dispatcher writes it: the string as it was given, or a
 * whole ArrayBuffer the caller now owns. Marks the body used; a used body is
 * a TypeError, as a disturbed one is for respondWith, and so is one that only
 * its stream can give (see hasStreamBody and bodyChunkReader).
 */
export function bodyToWire(body: Body | null): string | ArrayBuffer | null {
  if (body === null) return null;
  if (hasStreamBody(body)) throw new TypeError('The body is a stream: send it chunk by chunk (bodyChunkReader)');
  const source = takeSource(body);
  if (typeof source !== 'string') return source.buffer;
  // A big string goes as its UTF-8 bytes, made here: the copy to the host is then a copy of bytes
  // the isolate's memory limit counted, and the encoding the tenant's CPU. Four 128 MB strings,
  // sent as strings, held the host's loop 0.9 s and its heap 768 MB (a V8 string is outside the
  // limit isolated-vm enforces, and Node encoded each on the way out).
  return source.length > MAX_WIRE_STRING ? utf8Encode(source).buffer as ArrayBuffer : source;
}

/** The longest string body that goes to the host as a string (a megabyte or so of text). */
const MAX_WIRE_STRING = 1 << 20;

function toBytes(source: string | Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  return typeof source === 'string' ? (utf8Encode(source) as Uint8Array<ArrayBuffer>) : source;
}

/** text(): Encoding "UTF-8 decode", which drops a leading BOM; for a string source, the U+FEFF it encodes to. */
function toText(source: string | Uint8Array<ArrayBuffer>): string {
  if (typeof source !== 'string') return utf8Decode(source);
  return source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
}

/**
 * Fetch §5.3 "consume body": a rejected promise for an unusable body or a
 * locked stream, else the converted source (at once) or stream bytes (once read).
 */
function consumeBody<T>(bodyOf: () => Body | null, convert: (source: string | Uint8Array<ArrayBuffer>) => T): Promise<T> {
  try {
    // Inside the try: the brand check in bodyOf rejects too.
    const body = bodyOf();
    if (body === null) return Promise.resolve(convert(new Uint8Array(0)));
    if (isDisturbed(body) || canTakeSource(body)) return Promise.resolve(convert(takeSource(body)));
    return readStream(body).then(convert);
  } catch (error) {
    return Promise.reject(error);
  }
}

// Taken at load, before tenant code could replace it.
const getHeader = Headers.prototype.get;

/**
 * blob()'s type: the MIME type serialized (type, subtype and parameter names lower-case, values as
 * written), printable ASCII or nothing. Not lower-cased whole as the Blob constructor's type is
 * (Node's blob() does): a multipart boundary is case-sensitive and browsers' are mixed case, so the
 * blob would no longer describe its own bytes (workerd keeps the case too).
 */
function blobTypeFrom(mimeType: MimeType | null): string {
  return mimeType === null ? '' : printableBlobType(serializeMimeType(mimeType));
}

/** Fetch §5.3 formData() steps, on the bytes read and the result of "get the MIME type". */
function formDataFrom(bytes: Uint8Array, mimeType: MimeType | null): FormData {
  const type = mimeType === null ? null : essence(mimeType);
  if (type === 'multipart/form-data') {
    const boundary = mimeType?.parameters.get('boundary');
    if (boundary === undefined) throw new TypeError('The multipart/form-data Content-Type has no boundary');
    return createFormData(parseMultipartFormData(bytes, boundary));
  }
  if (type === 'application/x-www-form-urlencoded') return createFormData(parseURLEncoded(bytes));
  throw new TypeError('The Content-Type is neither multipart/form-data nor application/x-www-form-urlencoded');
}

/**
 * Defines the Body mixin's members on a class prototype. bodyOf is the class's
 * accessor to an instance's body; it throws a TypeError for other objects.
 * The prototype's own headers getter stands for the header list: it is taken
 * now, so a tenant redefining `headers` later cannot change what blob() and
 * formData() read.
 */
export function defineBodyMixin(prototype: object, bodyOf: (object: unknown) => Body | null): void {
  const headersOf = Object.getOwnPropertyDescriptor(prototype, 'headers')?.get;
  if (headersOf === undefined) throw new TypeError('The Body mixin needs a headers getter on the prototype');
  // Fetch §5.3 "get the MIME type".
  const mimeTypeOf = (object: unknown): MimeType | null =>
    extractMimeType(Reflect.apply(getHeader, Reflect.apply(headersOf, object, []), ['content-type']) as string | null);
  const members = {
    get body(): ReadableStream<Uint8Array> | null {
      const body = bodyOf(this);
      return body === null ? null : bodyStream(body);
    },
    get bodyUsed(): boolean {
      const body = bodyOf(this);
      return body !== null && isDisturbed(body);
    },
    arrayBuffer(): Promise<ArrayBuffer> {
      return consumeBody(() => bodyOf(this), (source) => toBytes(source).buffer);
    },
    blob(): Promise<Blob> {
      return consumeBody(() => bodyOf(this), (source) => createBlob(toBytes(source), blobTypeFrom(mimeTypeOf(this))));
    },
    bytes(): Promise<Uint8Array<ArrayBuffer>> {
      return consumeBody(() => bodyOf(this), toBytes);
    },
    formData(): Promise<FormData> {
      return consumeBody(() => bodyOf(this), (source) => formDataFrom(toBytes(source), mimeTypeOf(this)));
    },
    json(): Promise<unknown> {
      return consumeBody(() => bodyOf(this), (source) => JSON.parse(toText(source)) as unknown);
    },
    text(): Promise<string> {
      return consumeBody(() => bodyOf(this), toText);
    },
  };
  for (const key of Object.keys(members)) {
    Object.defineProperty(prototype, key, nullProto({ ...Object.getOwnPropertyDescriptor(members, key), enumerable: true }));
  }
}
