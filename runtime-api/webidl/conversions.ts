// WebIDL §3.2 "JavaScript type mapping": the argument conversions the Web APIs in
// runtime-api share. Tenant code can pass anything, so every public entry point
// converts its arguments through these before trusting their types.

/** WebIDL "DOMString": ECMAScript ToString, which throws on symbols (String() would not). */
export function toDOMString(value: unknown): string {
  return typeof value === 'string' ? value : `${value as string}`;
}

/** WebIDL "USVString": lone surrogates become U+FFFD. */
export function toUSVString(value: unknown): string {
  return toDOMString(value).toWellFormed();
}

const nonLatin1 = /[^\x00-\xFF]/;

/** WebIDL "ByteString": a TypeError for any code unit above U+00FF. */
export function toByteString(value: unknown, where: string): string {
  const s = toDOMString(value);
  if (nonLatin1.test(s)) {
    throw new TypeError(`${where}: ${JSON.stringify(s)} is not a valid ByteString (it has characters above U+00FF)`);
  }
  return s;
}

/** WebIDL "unsigned short", without [EnforceRange]: wraps modulo 2^16. */
export function toUnsignedShort(value: unknown): number {
  const x = Number(value);
  if (!Number.isFinite(x)) return 0;
  const n = Math.trunc(x) % 65536;
  return n < 0 ? n + 65536 : n + 0;
}

/** WebIDL enumeration: a TypeError when the string is not one of the values. */
export function toEnum<T extends string>(value: unknown, values: readonly T[], where: string): T {
  const s = toDOMString(value);
  if (!(values as readonly string[]).includes(s)) {
    throw new TypeError(`${where}: '${s}' is not one of ${values.map((v) => `'${v}'`).join(', ')}`);
  }
  return s as T;
}

/**
 * WebIDL dictionary, first step: undefined and null are the empty
 * dictionary, any other non-object is a TypeError. Members are then read with Get,
 * in lexicographic order, by the caller.
 */
export function toDictionary(value: unknown, where: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' && typeof value !== 'function') {
    throw new TypeError(`${where}: the options argument is not an object`);
  }
  return value as Record<string, unknown>;
}

/** WebIDL overload resolution: too few arguments is a TypeError. */
export function requireArguments(given: number, required: number, where: string): void {
  if (given < required) {
    const s = required === 1 ? '' : 's';
    throw new TypeError(`${where}: ${required} argument${s} required, but only ${given} present`);
  }
}

function intrinsicGetter(proto: object, key: string): (this: unknown) => unknown {
  return Object.getOwnPropertyDescriptor(proto, key)!.get!;
}

const arrayBufferByteLength = intrinsicGetter(ArrayBuffer.prototype, 'byteLength');
const arrayBufferResizable = intrinsicGetter(ArrayBuffer.prototype, 'resizable');
const arrayBufferDetached = intrinsicGetter(ArrayBuffer.prototype, 'detached');
let sharedArrayBufferPrototype: object | undefined;
let sharedArrayBufferByteLength: ((this: unknown) => unknown) | undefined;
let sharedArrayBufferGrowable: ((this: unknown) => unknown) | undefined;

/**
 * Looks up SharedArrayBuffer's intrinsics. A V8 startup snapshot is built without
 * SharedArrayBuffer, which an isolate booted from it gains only then: the runtime's
 * init calls this again, before any tenant code runs. Until found, no value counts as one.
 */
export function findSharedArrayBuffer(): void {
  if (typeof SharedArrayBuffer !== 'function') return;
  sharedArrayBufferPrototype = SharedArrayBuffer.prototype;
  sharedArrayBufferByteLength = intrinsicGetter(SharedArrayBuffer.prototype, 'byteLength');
  sharedArrayBufferGrowable = intrinsicGetter(SharedArrayBuffer.prototype, 'growable');
}

findSharedArrayBuffer();

function hasSlot(getter: ((this: unknown) => unknown) | undefined, value: object): boolean {
  if (getter === undefined) return false;
  try {
    getter.call(value);
    return true;
  } catch {
    return false;
  }
}

/** True when value has [[ArrayBufferData]] and is not shared (instanceof can be spoofed). */
export function isArrayBuffer(value: unknown): value is ArrayBuffer {
  return typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && hasSlot(arrayBufferByteLength, value);
}

/** True for SharedArrayBuffer.prototype: a cheap first test, before the brand check, for a value's prototype chain. */
export function isSharedArrayBufferPrototype(proto: object): boolean {
  return proto === sharedArrayBufferPrototype;
}

/** True when value is a SharedArrayBuffer. */
export function isSharedArrayBuffer(value: unknown): value is SharedArrayBuffer {
  return typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && hasSlot(sharedArrayBufferByteLength, value);
}

const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get!;

/** The [[TypedArrayName]] of a typed array (Uint8Array, Float64Array…), or undefined for anything else. */
export function typedArrayName(value: unknown): string | undefined {
  return typedArrayTag.call(value) as string | undefined;
}

/**
 * WebIDL buffer source conversion, for BufferSource (allowShared false)
 * and AllowSharedBufferSource (true): a Uint8Array over the bytes the value
 * holds (not a copy), or null when the value is no buffer source, so a union
 * goes on to its next member. Neither typedef has [AllowResizable], so resizable
 * buffers are a TypeError, and so, without allowShared, is a view of shared
 * memory. A detached buffer holds no bytes ("get a copy of the bytes").
 */
export function viewBufferSource(value: unknown, allowShared: boolean, where: string): Uint8Array | null {
  let buffer: ArrayBufferLike;
  if (ArrayBuffer.isView(value)) buffer = value.buffer;
  else if (isArrayBuffer(value) || (allowShared && isSharedArrayBuffer(value))) buffer = value;
  else return null;
  if (isArrayBuffer(buffer)) {
    if (arrayBufferResizable.call(buffer)) throw new TypeError(`${where}: a resizable ArrayBuffer is not accepted`);
    if (arrayBufferDetached.call(buffer)) return new Uint8Array(0);
  } else {
    if (!allowShared || !sharedArrayBufferGrowable) throw new TypeError(`${where}: a view of a SharedArrayBuffer is not accepted`);
    if (sharedArrayBufferGrowable.call(buffer)) throw new TypeError(`${where}: a growable SharedArrayBuffer is not accepted`);
  }
  if (buffer === value) return new Uint8Array(buffer);
  const view = value as ArrayBufferView;
  return new Uint8Array(buffer, view.byteOffset, view.byteLength);
}
