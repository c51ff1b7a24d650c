// Fetch §5.2 "BodyInit unions" (extract a body) and §5.3 "Body mixin", for the
// body types islet has so far: strings, buffer sources, Blob, FormData and
// URLSearchParams. There are no streams yet, so the mixin has no `body` getter;
// a string body stays a string, so text() and the wire never round-trip it
// through UTF-8.
import { utf8Decode, utf8Encode } from '../encoding/utf8.ts';
// The files themselves, not web/index.ts, which re-exports this module.
import { type Blob, blobBytes, blobType, createBlob, isBlob, toBlobType } from '../web/blob.ts';
import { createFormData, type FormData, formDataEntryList, isFormData } from '../web/form-data.ts';
import { toUSVString, viewBufferSource } from '../webidl/index.ts';
import { Headers } from './headers.ts';
import { extractMimeType, essence, type MimeType, serializeMimeType } from './mime-type.ts';
import { encodeMultipartFormData, parseMultipartFormData } from './multipart.ts';
import { parseURLEncoded } from './urlencoded.ts';

/** Fetch "body", minus its stream: the source and whether it was disturbed. */
export interface Body {
  /** A scalar value string, or bytes whose whole ArrayBuffer belongs to this body alone. */
  source: string | Uint8Array<ArrayBuffer>;
  /** The stream's "disturbed": read, moved to another body, or sent. */
  used: boolean;
}

export interface BodyWithType {
  body: Body;
  type: string | null;
}

/** The Body mixin's members, for the TypeScript types of Request and Response. */
export interface BodyMixin {
  readonly bodyUsed: boolean;
  arrayBuffer(): Promise<ArrayBuffer>;
  blob(): Promise<Blob>;
  bytes(): Promise<Uint8Array<ArrayBuffer>>;
  formData(): Promise<FormData>;
  json(): Promise<unknown>;
  text(): Promise<string>;
}

export type BodyInit = string | ArrayBuffer | ArrayBufferView | SharedArrayBuffer | Blob | FormData | URLSearchParamsLike;
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
      return { body: { source: new Uint8Array(blobBytes(object)), used: false }, type: type === '' ? null : type };
    }
    if (isFormData(object)) {
      const { bytes, boundary } = encodeMultipartFormData(formDataEntryList(object));
      return { body: { source: bytes, used: false }, type: `multipart/form-data; boundary=${boundary}` };
    }
    const view = viewBufferSource(object, false, where);
    // The spec copies a buffer source's bytes here; later changes to it do not count.
    if (view !== null) return { body: { source: new Uint8Array(view), used: false }, type: null };
    if (isURLSearchParams(object)) {
      return { body: { source: String(object), used: false }, type: 'application/x-www-form-urlencoded;charset=UTF-8' };
    }
  }
  return { body: { source: toUSVString(object), used: false }, type: 'text/plain;charset=UTF-8' };
}

/** A body for a string the caller knows is well-formed (JSON.stringify output, say). */
export function bodyFromString(source: string): Body {
  return { source, used: false };
}

/** A body over bytes the caller gives up (an ArrayBuffer from the wire). */
export function bodyFromBytes(buffer: ArrayBuffer): Body {
  return { source: new Uint8Array(buffer), used: false };
}

/** Fetch §5.3: an object is "unusable" when its body is non-null and disturbed. */
export function isUnusable(body: Body | null): boolean {
  return body !== null && body.used;
}

/** Fetch "clone a body": bytes are copied so each body still owns its buffer. */
export function cloneBody(body: Body): Body {
  const source = body.source;
  return { source: typeof source === 'string' ? source : new Uint8Array(source), used: false };
}

/** Fetch §5.4 "creating a proxy" for an input request's body: the new body takes the source, the old one is disturbed. */
export function proxyBody(body: Body): Body {
  const proxy = { source: body.source, used: false };
  body.used = true;
  body.source = '';
  return proxy;
}

/** Marks the body used and returns its source; the body lets go of it, so bytes can be handed out without a copy. */
function takeSource(body: Body): string | Uint8Array<ArrayBuffer> {
  if (body.used) throw new TypeError('The body has already been used');
  body.used = true;
  const source = body.source;
  body.source = '';
  return source;
}

/**
 * The body as the dispatcher writes it: the string as it was given, or a
 * whole ArrayBuffer the caller now owns. Marks the body used; a used body is
 * a TypeError, as a disturbed one is for respondWith.
 */
export function bodyToWire(body: Body | null): string | ArrayBuffer | null {
  if (body === null) return null;
  const source = takeSource(body);
  return typeof source === 'string' ? source : source.buffer;
}

function readBytes(body: Body | null): Uint8Array<ArrayBuffer> {
  if (body === null) return new Uint8Array(0);
  const source = takeSource(body);
  return typeof source === 'string' ? (utf8Encode(source) as Uint8Array<ArrayBuffer>) : source;
}

/** text(): Encoding "UTF-8 decode", which drops a leading BOM; for a string source, the U+FEFF it encodes to. */
function readText(body: Body | null): string {
  if (body === null) return '';
  const source = takeSource(body);
  if (typeof source !== 'string') return utf8Decode(source);
  return source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
}

/** Fetch §5.3 "consume body": a rejected promise for an unusable body, else the converted bytes. */
function consumeBody<T>(read: () => T): Promise<T> {
  try {
    return Promise.resolve(read());
  } catch (error) {
    return Promise.reject(error);
  }
}

// Taken at load, before tenant code could replace it.
const getHeader = Headers.prototype.get;

/** blob()'s type: the MIME type serialized, then held to File API's rule for a Blob's type, as Node's blob() is. */
function blobTypeFrom(mimeType: MimeType | null): string {
  return mimeType === null ? '' : toBlobType(serializeMimeType(mimeType));
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
    get bodyUsed(): boolean {
      const body = bodyOf(this);
      return body !== null && body.used;
    },
    arrayBuffer(): Promise<ArrayBuffer> {
      return consumeBody(() => readBytes(bodyOf(this)).buffer);
    },
    blob(): Promise<Blob> {
      return consumeBody(() => {
        const bytes = readBytes(bodyOf(this));
        return createBlob(bytes, blobTypeFrom(mimeTypeOf(this)));
      });
    },
    bytes(): Promise<Uint8Array<ArrayBuffer>> {
      return consumeBody(() => readBytes(bodyOf(this)));
    },
    formData(): Promise<FormData> {
      return consumeBody(() => {
        const bytes = readBytes(bodyOf(this));
        return formDataFrom(bytes, mimeTypeOf(this));
      });
    },
    json(): Promise<unknown> {
      return consumeBody(() => JSON.parse(readText(bodyOf(this))) as unknown);
    },
    text(): Promise<string> {
      return consumeBody(() => readText(bodyOf(this)));
    },
  };
  for (const key of Object.keys(members)) {
    Object.defineProperty(prototype, key, { ...Object.getOwnPropertyDescriptor(members, key), enumerable: true });
  }
}
