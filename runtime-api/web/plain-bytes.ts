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
  let length: number;
  try {
    length = apply(typedByteLength, view, []) as number;
  } catch {
    throw new TypeError(`${where}: expected a typed array`);
  }
  const out = new PlainArrayBuffer(length);
  apply(setBytes, new PlainUint8Array(out), [view]);
  return out;
}

/** `view`'s bytes as a new Uint8Array (copyOfView's, viewed). */
export function copyOfBytes(view: unknown, where: string): Uint8Array {
  return new PlainUint8Array(copyOfView(view, where));
}

/** `value` itself when it is an ArrayBuffer (not a look-alike); a TypeError otherwise. */
export function checkedArrayBuffer(value: unknown, where: string): ArrayBuffer {
  try {
    apply(arrayBufferByteLength, value, []);
  } catch {
    throw new TypeError(`${where}: expected an ArrayBuffer`);
  }
  return value as ArrayBuffer;
}
