// Bytes the runtime hands the host, made with intrinsics captured when the runtime loads, before
// any tenant code runs in its realm: a tenant can replace Uint8Array.prototype.slice, a species
// constructor, Request.prototype.arrayBuffer or the globals themselves, and a probe made each of
// them return its own array of 16 MB strings, which then crossed to the host in place of 4 bytes.
const { apply } = Reflect;
const PlainArrayBuffer = ArrayBuffer;
const PlainUint8Array = Uint8Array;
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const typedByteLength = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'byteLength')!.get!;
const arrayBufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get!;
const setBytes = (typedArrayPrototype as { set: (source: ArrayLike<number>) => void }).set;

/** A new ArrayBuffer holding the bytes of typed array `view`; a TypeError for anything else. */
export function copyOfView(view: unknown, where: string): ArrayBuffer {
  const out = new PlainArrayBuffer(viewByteLength(view, where));
  apply(setBytes, new PlainUint8Array(out), [view]);
  return out;
}

const typedByteOffset = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'byteOffset')!.get!;
const typedBuffer = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'buffer')!.get!;

/** The byte length of typed array `view`, read with the getter there was at load. */
export function viewByteLength(view: unknown, where: string): number {
  try {
    return apply(typedByteLength, view, []) as number;
  } catch {
    throw new TypeError(`${where}: expected a typed array`);
  }
}

/**
 * A new ArrayBuffer holding bytes `start` to `end` (clamped to its length) of typed array `view`:
 * a piece of a tenant's bytes for a host call, cut without slice, subarray or the view's getters
 * as the tenant may have replaced them.
 */
export function copyOfRange(view: unknown, start: number, end: number, where: string): ArrayBuffer {
  const length = viewByteLength(view, where);
  const from = start < 0 ? 0 : start > length ? length : start;
  const to = end > length ? length : end < from ? from : end;
  const offset = apply(typedByteOffset, view, []) as number;
  const buffer = apply(typedBuffer, view, []) as ArrayBuffer;
  const out = new PlainArrayBuffer(to - from);
  apply(setBytes, new PlainUint8Array(out), [new PlainUint8Array(buffer, offset + from, to - from)]);
  return out;
}

/** One new ArrayBuffer of `size` bytes holding `buffers` one after another (their lengths read with the getter there was at load). */
export function joinBuffers(buffers: ArrayBuffer[], count: number, size: number): ArrayBuffer {
  const out = new PlainArrayBuffer(size);
  const into = new PlainUint8Array(out);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const piece = buffers[i];
    const length = byteLengthOf(piece, 'a piece of a body');
    apply(setBytes, into, [new PlainUint8Array(piece as ArrayBuffer), offset]);
    offset += length;
  }
  return out;
}

const { setPrototypeOf } = Object;

/**
 * An array with no prototype, for lists the runtime hands the host: `items` (a fresh array, made
 * by the caller as a literal) or a new empty one to fill by index. No setter the tenant put on
 * Array.prototype (for an index) runs as it is filled, no `then` makes it a thenable, no iterator
 * of theirs applies. Use indexes and length only: it has no methods.
 */
export function plainArray<T>(items: T[] = []): T[] {
  return setPrototypeOf(items, null) as T[];
}

/** `view`'s bytes as a new Uint8Array (copyOfView's, viewed). */
export function copyOfBytes(view: unknown, where: string): Uint8Array {
  return new PlainUint8Array(copyOfView(view, where));
}

const sharedByteLength = typeof SharedArrayBuffer === 'function'
  ? Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'byteLength')?.get
  : undefined;

/**
 * A new ArrayBuffer holding the bytes of a BufferSource (an ArrayBuffer, a SharedArrayBuffer or a
 * view of either), or undefined when `value` is none of them: what a tenant hands the runtime to
 * send, read without any method or getter it can replace.
 */
export function copyOfBufferSource(value: unknown): ArrayBuffer | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  try {
    apply(typedByteLength, value, []);
    return copyOfView(value, 'a BufferSource');
  } catch {}
  let whole = false;
  try {
    apply(arrayBufferByteLength, value, []);
    whole = true;
  } catch {}
  if (!whole && sharedByteLength !== undefined) {
    try {
      apply(sharedByteLength, value, []);
      whole = true;
    } catch {}
  }
  if (!whole) {
    // A DataView: its own byteLength getter, captured like the others.
    try {
      const length = apply(dataViewByteLength, value, []) as number;
      const offset = apply(dataViewByteOffset, value, []) as number;
      const buffer = apply(dataViewBuffer, value, []) as ArrayBuffer;
      return copyOfView(new PlainUint8Array(buffer, offset, length), 'a BufferSource');
    } catch {
      return undefined;
    }
  }
  return copyOfView(new PlainUint8Array(value as ArrayBuffer), 'a BufferSource');
}
const dataViewByteLength = Object.getOwnPropertyDescriptor(DataView.prototype, 'byteLength')!.get!;
const dataViewByteOffset = Object.getOwnPropertyDescriptor(DataView.prototype, 'byteOffset')!.get!;
const dataViewBuffer = Object.getOwnPropertyDescriptor(DataView.prototype, 'buffer')!.get!;

/** `value` itself when it is an ArrayBuffer (not a look-alike); a TypeError otherwise. */
export function checkedArrayBuffer(value: unknown, where: string): ArrayBuffer {
  byteLengthOf(value, where);
  return value as ArrayBuffer;
}

/** The byte length of ArrayBuffer `value`, read with the getter there was at load; a TypeError for anything else. */
export function byteLengthOf(value: unknown, where: string): number {
  try {
    return apply(arrayBufferByteLength, value, []) as number;
  } catch {
    throw new TypeError(`${where}: expected an ArrayBuffer`);
  }
}
