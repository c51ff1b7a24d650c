// File API §3 "The Blob Interface and Binary Data" and §4 "The File Interface".
// A blob's bytes are copied once, when it is made, and never change: slice(),
// FormData and the Body mixin share them, and every reader hands out a copy.
// A slice keeps the whole buffer it was cut from alive, as long as it lives.
import { utf8Decode, utf8Encode } from '../encoding/utf8.ts';
import { joinBytes } from './bytes.ts';
import { declareStreamLength } from './streams.ts';
import {
  defineInterface,
  NO_MEMBERS,
  nullProto,
  requireArguments,
  toDictionary,
  toDOMString,
  toEnum,
  toUSVString,
  viewBufferSource,
} from '../webidl/index.ts';

export type BlobPart = ArrayBuffer | ArrayBufferView | Blob | string;
export type EndingType = 'transparent' | 'native';

export interface BlobPropertyBag {
  endings?: EndingType;
  type?: string;
}

export interface FilePropertyBag extends BlobPropertyBag {
  lastModified?: number;
}

const endingTypes: readonly EndingType[] = ['transparent', 'native'];
const printableASCII = /^[\x20-\x7e]*$/;
// Never handed out (readers copy), so every empty blob can share it.
const noBytes = new Uint8Array(0);

/** A blob part after the WebIDL union conversion: the buffer source's bytes are copied later, by "process blob parts". */
type ConvertedPart = Blob | Uint8Array | string;

// Constructing with this symbol skips the constructor steps (as in fetch/request.ts).
const internal = Symbol('internal');

let isBlobImpl: (value: object) => boolean;
let bytesOf: (blob: Blob) => Uint8Array<ArrayBuffer>;
let typeOf: (blob: Blob) => string;
let setBlobData: (blob: Blob, bytes: Uint8Array<ArrayBuffer>, type: string) => void;
let isFileImpl: (value: object) => boolean;
let nameOf: (file: File) => string;
let lastModifiedOf: (file: File) => number;
let setFileData: (file: File, name: string, lastModified: number) => void;

/** File API §3.1 constructor step 3 (and "slice blob" step 4): a type with a code point outside U+0020–U+007E is dropped, else lower-cased. */
export function toBlobType(type: string): string {
  return printableASCII.test(type) ? type.toLowerCase() : '';
}

/** A type as given if every code point is in U+0020–U+007E, else none: the constructor's rule without its lower-casing. */
export function printableBlobType(type: string): string {
  return printableASCII.test(type) ? type : '';
}

export function isBlob(value: unknown): value is Blob {
  return typeof value === 'object' && value !== null && isBlobImpl(value);
}

/**
 * WebIDL sequence<T> conversion: the iterable's @@iterator is looked up once
 * and stepped by hand, each item converted as it comes.
 */
function toSequence<T>(value: unknown, convert: (item: unknown) => T, where: string): T[] {
  if (typeof value !== 'object' || value === null) throw new TypeError(`${where}: the blob parts are not a sequence`);
  const method = (value as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (typeof method !== 'function') throw new TypeError(`${where}: the blob parts are not iterable`);
  const iterator = Reflect.apply(method, value, []) as Iterator<unknown>;
  if (typeof iterator !== 'object' || iterator === null) throw new TypeError(`${where}: @@iterator did not return an object`);
  const next = iterator.next;
  const items: T[] = [];
  for (;;) {
    const result = Reflect.apply(next, iterator, []) as IteratorResult<unknown>;
    if (typeof result !== 'object' || result === null) throw new TypeError(`${where}: the iterator result is not an object`);
    if (result.done) return items;
    items.push(convert(result.value));
  }
}

/** WebIDL union conversion of a BlobPart: (BufferSource or Blob or USVString). */
function toBlobParts(value: unknown, where: string): ConvertedPart[] {
  return toSequence(value, (item) => (isBlob(item) ? item : (viewBufferSource(item, false, where) ?? toUSVString(item))), where);
}

/** WebIDL "long long" (no [Clamp] or [EnforceRange]): truncated, wrapped modulo 2^64 into the signed range. */
function toLongLong(value: unknown): number {
  const x = +(value as number);
  if (!Number.isFinite(x)) return 0;
  const n = Math.trunc(x);
  return Number.isSafeInteger(n) ? n + 0 : Number(BigInt.asIntN(64, BigInt(n)));
}

/** WebIDL "[Clamp] long long": clamped to the range, then rounded half to even. */
function toClampedLongLong(value: unknown): number {
  const x = +(value as number);
  if (Number.isNaN(x)) return 0;
  const clamped = Math.min(Math.max(x, -(2 ** 63)), 2 ** 63 - 1);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  const rounded = fraction < 0.5 || (fraction === 0.5 && floor % 2 === 0) ? floor : floor + 1;
  return rounded + 0;
}

/** "slice blob" steps 2 and 3: a negative position counts back from the end. */
function relativePosition(position: number, size: number): number {
  return position < 0 ? Math.max(size + position, 0) : Math.min(position, size);
}

/** BlobPropertyBag's members, in lexicographic order. */
function readBlobPropertyBag(dict: Record<string, unknown>, where: string): { endings: EndingType; type: string } {
  const endingsMember = dict.endings;
  const endings = endingsMember === undefined ? 'transparent' : toEnum(endingsMember, endingTypes, where);
  const typeMember = dict.type;
  return { endings, type: typeMember === undefined ? '' : toBlobType(toDOMString(typeMember)) };
}

/** File API §3.1 "convert line endings to native": CRLF and lone CR become LF, a server's native line ending. */
function convertLineEndingsToNative(s: string): string {
  return s.replace(/\r\n?/g, '\n');
}

/** File API §3.1 "process blob parts": concatenated into one new buffer. */
function processBlobParts(parts: ConvertedPart[], endings: EndingType): Uint8Array<ArrayBuffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (const part of parts) {
    let bytes: Uint8Array;
    if (typeof part === 'string') bytes = utf8Encode(endings === 'native' ? convertLineEndingsToNative(part) : part);
    else if (isBlob(part)) bytes = bytesOf(part);
    else bytes = part;
    chunks.push(bytes);
    size += bytes.length;
  }
  return joinBytes(chunks, size);
}

/** A promise for read's result, or rejected with what it threw: WebIDL's promise-returning operations never throw. */
function settle<T>(read: () => T): Promise<T> {
  try {
    return Promise.resolve(read());
  } catch (error) {
    return Promise.reject(error);
  }
}

interface ReadableStreamSource {
  type: 'bytes';
  start(controller: { enqueue(chunk: Uint8Array): void; close(): void }): void;
}

export class Blob {
  #bytes: Uint8Array<ArrayBuffer> = noBytes;
  #type = '';

  constructor(blobParts: Iterable<BlobPart> | undefined = undefined, options: BlobPropertyBag | undefined = undefined) {
    if ((blobParts as unknown) === internal) return;
    const where = "Failed to construct 'Blob'";
    const parts = blobParts === undefined ? [] : toBlobParts(blobParts, where);
    const { endings, type } = readBlobPropertyBag(toDictionary(options, where) ?? NO_MEMBERS, where);
    this.#bytes = processBlobParts(parts, endings);
    this.#type = type;
  }

  get size(): number {
    return this.#bytes.length;
  }

  get type(): string {
    return this.#type;
  }

  /** File API "slice blob": negative positions count from the end. */
  slice(start: number | undefined = undefined, end: number | undefined = undefined, contentType: string | undefined = undefined): Blob {
    const bytes = this.#bytes;
    const size = bytes.length;
    const relativeStart = start === undefined ? 0 : relativePosition(toClampedLongLong(start), size);
    const relativeEnd = end === undefined ? size : relativePosition(toClampedLongLong(end), size);
    const relativeContentType = contentType === undefined ? '' : toBlobType(toDOMString(contentType));
    const span = Math.max(relativeEnd - relativeStart, 0);
    return createBlob(bytes.subarray(relativeStart, relativeStart + span), relativeContentType);
  }

  /** File API §3.3.2: a byte stream of the blob, where the runtime has ReadableStream. */
  stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    const bytes = this.#bytes;
    const ReadableStreamConstructor = (globalThis as { ReadableStream?: new (source: ReadableStreamSource) => unknown }).ReadableStream;
    if (typeof ReadableStreamConstructor !== 'function') {
      throw new TypeError("Failed to execute 'stream' on 'Blob': streams are not available yet");
    }
    // File API "get stream" sets the stream up with byte reading support, so BYOB readers work.
    const stream = new ReadableStreamConstructor(nullProto<ReadableStreamSource>({
      type: 'bytes',
      start(controller) {
        if (bytes.length > 0) controller.enqueue(bytes.slice());
        controller.close();
      },
    })) as ReadableStream<Uint8Array<ArrayBuffer>>;
    // Its length is known: `new Response(blob.stream())` goes out with it, as on workerd.
    declareStreamLength(stream as never, bytes.length);
    return stream;
  }

  /** File API §3.3.3: "UTF-8 decode", which drops a leading BOM. */
  text(): Promise<string> {
    return settle(() => utf8Decode(this.#bytes));
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return settle(() => this.#bytes.slice().buffer);
  }

  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return settle(() => this.#bytes.slice());
  }

  static {
    isBlobImpl = (value) => #bytes in value;
    bytesOf = (blob) => blob.#bytes;
    typeOf = (blob) => blob.#type;
    setBlobData = (blob, bytes, type) => {
      blob.#bytes = bytes;
      blob.#type = type;
    };
  }
}

defineInterface(Blob, 'Blob');

export class File extends Blob {
  #name = '';
  #lastModified = 0;

  constructor(fileBits: Iterable<BlobPart>, fileName: string, options: FilePropertyBag | undefined = undefined) {
    const init = (fileBits as unknown) === internal ? null : convertFileArguments(arguments.length, fileBits, fileName, options);
    super(internal as never);
    if (init === null) return;
    setBlobData(this, init.bytes, init.type);
    this.#name = init.name;
    this.#lastModified = init.lastModified;
  }

  get name(): string {
    return this.#name;
  }

  /** Milliseconds since the epoch. */
  get lastModified(): number {
    return this.#lastModified;
  }

  static {
    isFileImpl = (value) => #name in value;
    nameOf = (file) => file.#name;
    lastModifiedOf = (file) => file.#lastModified;
    setFileData = (file, name, lastModified) => {
      file.#name = name;
      file.#lastModified = lastModified;
    };
  }
}

defineInterface(File, 'File');

/** File API §4.1 constructor steps, run before super() so that a File is only made from valid arguments. */
function convertFileArguments(
  argumentCount: number,
  fileBits: unknown,
  fileName: unknown,
  options: unknown,
): { bytes: Uint8Array<ArrayBuffer>; type: string; name: string; lastModified: number } {
  const where = "Failed to construct 'File'";
  requireArguments(argumentCount, 2, where);
  const parts = toBlobParts(fileBits, where);
  const name = toUSVString(fileName);
  // FilePropertyBag: the inherited BlobPropertyBag members come first.
  const dict = toDictionary(options, where) ?? NO_MEMBERS;
  const { endings, type } = readBlobPropertyBag(dict, where);
  const lastModifiedMember = dict.lastModified;
  const lastModified = lastModifiedMember === undefined ? Date.now() : toLongLong(lastModifiedMember);
  return { bytes: processBlobParts(parts, endings), type, name, lastModified };
}

// The fetch and form classes' view of blobs: module functions, so tenant code
// cannot reach them through the objects, nor change what they see by
// redefining name or type on a File.

export function isFile(value: unknown): value is File {
  return typeof value === 'object' && value !== null && isFileImpl(value);
}

/** The blob's bytes, not a copy: the caller must not change them. */
export function blobBytes(blob: Blob): Uint8Array<ArrayBuffer> {
  return bytesOf(blob);
}

export function blobType(blob: Blob): string {
  return typeOf(blob);
}

export function fileName(file: File): string {
  return nameOf(file);
}

export function fileLastModified(file: File): number {
  return lastModifiedOf(file);
}

/** A Blob over bytes the caller gives up, with a type already normalized by toBlobType. */
export function createBlob(bytes: Uint8Array<ArrayBuffer>, type: string): Blob {
  const blob = new Blob(internal as never);
  setBlobData(blob, bytes, type);
  return blob;
}

/** A File over bytes the caller gives up (or another blob's, which never change). */
export function createFile(bytes: Uint8Array<ArrayBuffer>, name: string, type: string, lastModified: number): File {
  const file = new File(internal as never, '');
  setBlobData(file, bytes, type);
  setFileData(file, name, lastModified);
  return file;
}
