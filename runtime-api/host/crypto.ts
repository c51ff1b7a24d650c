// crypto.getRandomValues / randomUUID from host entropy. Bytes come from the host's CSPRNG in
// blocks to keep boundary crossings rare; each byte is handed out once. The pool starts empty in
// every isolate, so a future V8 snapshot of this runtime can never share random bytes.
import { host } from './host-calls.ts';
import { DOMException } from '../web/index.ts';
import { requireArguments } from '../webidl/index.ts';
import { subtle, type SubtleCrypto } from './subtle-crypto.ts';
import { DigestStream } from './digest.ts';

const BLOCK = 4096;
// Web Crypto §10.1.1: requests over 65536 bytes are a QuotaExceededError.
const MAX_REQUEST = 65536;

let pool = new Uint8Array(0);
let offset = 0;

function take(n: number): Uint8Array {
  if (offset + n > pool.length) {
    // No Math.max: the tenant's to replace, and one that answered an object sent it to the host
    // (32 MB a call) and handed out zeros.
    pool = new Uint8Array(host().randomBytes(n > BLOCK ? n : BLOCK));
    offset = 0;
    if (pool.length < n) throw new DOMException('the host gave fewer random bytes than asked for', 'OperationError');
  }
  const out = pool.subarray(offset, offset + n);
  offset += n;
  return out;
}

const INTEGER_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array];

export function getRandomValues<T extends ArrayBufferView>(array: T): T {
  // WebIDL: the parameter is an ArrayBufferView; Web Crypto's own check (integer types) comes after.
  if (!ArrayBuffer.isView(array)) {
    throw new TypeError("Failed to execute 'getRandomValues' on 'Crypto': parameter 1 is not of type 'ArrayBufferView'");
  }
  if (!INTEGER_ARRAYS.some((C) => array instanceof C)) {
    throw new DOMException('getRandomValues needs an integer typed array', 'TypeMismatchError');
  }
  if (array.byteLength > MAX_REQUEST) {
    throw new DOMException(`getRandomValues can fill at most ${MAX_REQUEST} bytes, got ${array.byteLength}`, 'QuotaExceededError');
  }
  const bytes = take(array.byteLength);
  new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(bytes);
  bytes.fill(0);
  return array;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function randomUUID(): string {
  const b = take(16);
  // RFC 9562 §5.4: version 4, variant 10xx.
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = (i: number) => HEX[b[i]!]!;
  const uuid = `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
  b.fill(0);
  return uuid;
}

class Crypto {
  getRandomValues<T extends ArrayBufferView>(array: T): T {
    requireArguments(arguments.length, 1, "Failed to execute 'getRandomValues' on 'Crypto'");
    return getRandomValues(array);
  }
  randomUUID(): string {
    return randomUUID();
  }
  get subtle(): SubtleCrypto {
    return subtle;
  }
  /** Workers' crypto.DigestStream. */
  get DigestStream(): typeof DigestStream {
    return DigestStream;
  }
  get [Symbol.toStringTag]() {
    return 'Crypto';
  }
}

export const crypto = new Crypto();
export { Crypto };
