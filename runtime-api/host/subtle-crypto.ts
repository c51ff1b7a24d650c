// crypto.subtle (Web Crypto §14). digest runs on synchronous host calls (digest.ts); every other method
// converts its arguments here into plain data (algorithm dictionaries, key descriptors, byte
// copies), runs on the host's node:crypto webcrypto, and settles through settleCrypto. Web
// Crypto's own checks (algorithm/usage matching, parameter validation) are node's, with the
// spec's DOMException names; the ones that depend on key slots the host never sees
// (extractable) are made here.
import { DOMException } from '../web/index.ts';
import { copyOfBytes, copyOfView } from '../web/plain-bytes.ts';
import { requireArguments, viewBufferSource } from '../webidl/index.ts';
import { nullProto } from '../webidl/null-prototype.ts';
import { type CryptoKey, heldKey, keyFromDescriptor, type KeyDescriptor } from './crypto-key.ts';
import { digestBytes, digestName } from './digest.ts';
import { host } from './host-calls.ts';
import { PendingCalls } from './pending-calls.ts';
import { bytesIn, bytesToHostRefusal } from './bytes-to-host.ts';


// Operations waiting for the host, per isolate; the host keeps its own bound too.
const MAX_PENDING = 32;

const pending = new PendingCalls<unknown>();

function call(op: string, args: unknown[]): Promise<unknown> {
  if (pending.size >= MAX_PENDING) {
    return Promise.reject(new DOMException(`more than ${MAX_PENDING} crypto.subtle operations are already running`, 'OperationError'));
  }
  const bytes = bytesIn(args);
  const refused = bytesToHostRefusal(bytes, `crypto.subtle.${op}`);
  if (refused !== undefined) return Promise.reject(new DOMException(refused, 'OperationError'));
  // Web Crypto operations take no AbortSignal: nothing cancels them once started.
  return pending.start(undefined, (id) => host().startCrypto(id, op, args), () => {}, bytes);
}

/** Called by the host when operation `id` is done: its result, or the {name, message} it failed with. */
export function settleCrypto(id: number, ok: boolean, value: unknown): void {
  const p = pending.take(id);
  if (!p) return;
  if (ok) return p.resolve(value);
  const { name, message } = value as { name: string; message: string };
  p.reject(name === 'TypeError' ? new TypeError(message) : new DOMException(message, name));
}

function bytes(value: unknown, where: string): ArrayBuffer {
  const view = viewBufferSource(value, false, where);
  if (view === null) throw new TypeError(`${where}: expected a BufferSource`);
  // A copy: the caller may change its buffer while the operation runs (§14.3, "get a copy of the bytes").
  return copyOfView(view, where);
}

/**
 * A name (an algorithm, a hash, a curve, a key format or usage) as a string no longer than any
 * real one: a 16 MB algorithm name went to the host 32 calls at a time (500 MB of its heap, its
 * event loop held 1.2 s) before the host could say it names nothing.
 */
// Captured at load, before any tenant code runs in this realm: a tenant's `String = (v) => v`
// passed an array of eight 16 MB strings through as a "name" of length 8.
const toText = String;
const toNumber = Number;
const arrayFrom = Array.from;
const { stringify, parse } = JSON;

function shortName(value: unknown, where: string): string {
  const name = toText(value);
  if (name.length > 64) throw new DOMException(`${where}: no algorithm, format or usage has a ${name.length}-character name`, 'NotSupportedError');
  return name;
}

/** JWKs cross as JSON; a real one (an RSA-4096 private key) is a few KB. */
const MAX_JWK_CHARS = 64 * 1024;

/**
 * A hash given as a dictionary: its name is all a HashAlgorithmIdentifier says. (Normalized as a
 * whole algorithm, a hash nested in hashes carried byte members past what the host's byte count
 * looks at, three times the bound on the host.)
 */
function hashDict(hash: unknown, where: string): Record<string, unknown> {
  if (hash === null || typeof hash !== 'object') throw new TypeError(`${where}: the hash must be a name or an object`);
  const name = (hash as { name?: unknown }).name;
  if (name === undefined) throw new TypeError(`${where}: the hash has no name`);
  const out = Object.create(null) as Record<string, unknown>;
  out.name = shortName(name, where);
  return out;
}

function exponent(value: unknown, where: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${where}: publicExponent must be a Uint8Array`);
  return copyOfBytes(value, where);
}

/** How each member of some algorithm dictionary is converted into the plain data the host takes. */
const CONVERT = nullProto({
  additionalData: bytes, context: bytes, counter: bytes, info: bytes, iv: bytes, label: bytes, salt: bytes,
  iterations: toNumber, length: toNumber, modulusLength: toNumber, saltLength: toNumber, tagLength: toNumber,
  hash: (hash: unknown, where: string) => typeof hash === 'string' ? shortName(hash, where) : hashDict(hash, where),
  namedCurve: shortName,
  publicExponent: exponent,
  public: descriptor,
});
type Member = keyof typeof CONVERT;
/** Upper-cased algorithm name → the members of its dictionary for one operation, beyond `name`. */
type Dictionaries = Readonly<Record<string, readonly Member[]>>;

// §18.4 reads the members of the algorithm's own dictionary for the operation, inherited values
// included, and no others: reading every member some algorithm has made a tenant's
// `Object.prototype.iv = 1` break HMAC (a BufferSource expected). Algorithms that take nothing
// but a name for an operation are not listed. Members are in the spec's order of reading them.
const RSA_KEY_GEN: readonly Member[] = ['modulusLength', 'publicExponent', 'hash'];
const AES_KEY_LENGTH: readonly Member[] = ['length'];
const HMAC_KEY: readonly Member[] = ['hash', 'length'];

/** encrypt and decrypt; wrapKey and unwrapKey fall back to them (AES-KW's wrap takes a name only). */
const CIPHER: Dictionaries = nullProto({
  'RSA-OAEP': ['label'], 'AES-CTR': ['counter', 'length'], 'AES-CBC': ['iv'], 'AES-GCM': ['additionalData', 'iv', 'tagLength'],
});
const SIGN: Dictionaries = nullProto({ 'RSA-PSS': ['saltLength'], ECDSA: ['hash'], ED448: ['context'] });
const GENERATE_KEY: Dictionaries = nullProto({
  'RSASSA-PKCS1-V1_5': RSA_KEY_GEN, 'RSA-PSS': RSA_KEY_GEN, 'RSA-OAEP': RSA_KEY_GEN,
  ECDSA: ['namedCurve'], ECDH: ['namedCurve'], 'NODE-ED25519': ['namedCurve'],
  'AES-CTR': AES_KEY_LENGTH, 'AES-CBC': AES_KEY_LENGTH, 'AES-GCM': AES_KEY_LENGTH, 'AES-KW': AES_KEY_LENGTH, HMAC: HMAC_KEY,
});
const IMPORT_KEY: Dictionaries = nullProto({
  'RSASSA-PKCS1-V1_5': ['hash'], 'RSA-PSS': ['hash'], 'RSA-OAEP': ['hash'],
  ECDSA: ['namedCurve'], ECDH: ['namedCurve'], 'NODE-ED25519': ['namedCurve'], HMAC: HMAC_KEY,
});
const DERIVE_BITS: Dictionaries = nullProto({
  ECDH: ['public'], X25519: ['public'], X448: ['public'], HKDF: ['hash', 'info', 'salt'], PBKDF2: ['hash', 'iterations', 'salt'],
});
/** deriveKey's derivedKeyType is normalized for importKey and for "get key length". */
const DERIVED_KEY: Dictionaries = nullProto({
  ...IMPORT_KEY, 'AES-CTR': AES_KEY_LENGTH, 'AES-CBC': AES_KEY_LENGTH, 'AES-GCM': AES_KEY_LENGTH, 'AES-KW': AES_KEY_LENGTH,
});

const NO_DICTIONARY: readonly Member[] = [];

/**
 * §18.4 "normalize an algorithm", the part that must happen before data leaves the isolate: a
 * name or dictionary becomes a plain dictionary of the members the named algorithm's dictionary
 * for this operation defines, with BufferSources copied and CryptoKeys turned into descriptors.
 * An algorithm not registered for the operation keeps its name only; node refuses it and
 * validates the rest.
 */
function algorithmDict(algorithm: unknown, dictionaries: Dictionaries, where: string): Record<string, unknown> {
  if (typeof algorithm === 'string') return { name: shortName(algorithm, where) };
  if (algorithm === null || typeof algorithm !== 'object') throw new TypeError(`${where}: the algorithm must be a name or an object`);
  const given = algorithm as Record<string, unknown>;
  if (given.name === undefined) throw new TypeError(`${where}: the algorithm has no name`);
  // A null-prototype record, filled by an index loop: a setter the tenant put on Object.prototype
  // (for `iv`, say) ran on each assignment and hung 64 MB strings on the dictionary for the copy.
  const out = Object.create(null) as Record<string, unknown>;
  const name = shortName(given.name, where);
  out.name = name;
  const members = dictionaries[name.toUpperCase()] ?? NO_DICTIONARY;
  for (let i = 0; i < members.length; i++) {
    const member = members[i]!;
    const value = given[member];
    if (value !== undefined) out[member] = CONVERT[member](value, where);
  }
  return out;
}

function descriptor(key: unknown, where: string): KeyDescriptor {
  const { extractable: _extractable, ...d } = heldKey(key, where);
  return d;
}

function usageList(usages: unknown, where: string): string[] {
  if (usages === null || typeof usages !== 'object' || typeof (usages as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new TypeError(`${where}: key usages must be a sequence`);
  }
  const list = arrayFrom(usages as Iterable<unknown>, (usage) => shortName(usage, where));
  // Eight usages exist; a list longer than a few dozen is not a list of them.
  if (list.length > 32) throw new TypeError(`${where}: ${list.length} key usages given`);
  return list;
}

function keyData(format: string, data: unknown, where: string): unknown {
  if (format !== 'jwk') return bytes(data, where);
  if (data === null || typeof data !== 'object') throw new TypeError(`${where}: a JWK must be an object`);
  // A JsonWebKey dictionary holds strings, booleans and lists of strings: JSON keeps exactly those.
  const json = stringify(data);
  if (typeof json !== 'string' || json.length > MAX_JWK_CHARS) throw new DOMException(`${where}: the JWK is larger than any key's (${MAX_JWK_CHARS} characters)`, 'DataError');
  return parse(json) as unknown;
}

// Key-derivation inputs: their "import key" steps refuse an extractable key (after checking the
// format and usages, which the host has done when its answer comes back).
const NEVER_EXTRACTABLE = new Set(['PBKDF2', 'HKDF']);

function importedKey(d: KeyDescriptor, extractable: unknown, where: string): CryptoKey {
  const name = d.algorithm.name as string;
  if (extractable && NEVER_EXTRACTABLE.has(name)) throw new DOMException(`${where}: a ${name} key cannot be extractable`, 'SyntaxError');
  return keyFromDescriptor(d, Boolean(extractable));
}

function requireExtractable(key: unknown, where: string): void {
  if (!heldKey(key, where).extractable) throw new DOMException(`${where}: the key is not extractable`, 'InvalidAccessError');
}

/** A JWK with its members in workerd's order (kty first), so that it serialises the same on both. */
function jwkInOrder(jwk: Record<string, unknown>): Record<string, unknown> {
  const { kty, key_ops, alg, ext, ...rest } = jwk;
  const ordered: Record<string, unknown> = { kty };
  if (key_ops !== undefined) ordered.key_ops = key_ops;
  if (alg !== undefined) ordered.alg = alg;
  if (ext !== undefined) ordered.ext = ext;
  return Object.assign(ordered, rest);
}

/** Algorithms whose "raw" format is the public key (an EC point or a curve's public bytes). */
const RAW_PUBLIC_ONLY = new Set(['ECDSA', 'ECDH', 'Ed25519', 'X25519']);

const where = (method: string) => `Failed to execute '${method}' on 'SubtleCrypto'`;

class SubtleCrypto {
  async digest(algorithm: unknown, data: unknown): Promise<ArrayBuffer> {
    const name = digestName(algorithm, 'crypto.subtle.digest');
    const view = viewBufferSource(data, false, where('digest'));
    if (view === null) throw new TypeError(`${where('digest')}: expected a BufferSource`);
    return digestBytes(name, view);
  }

  async encrypt(algorithm: unknown, key: unknown, data: unknown): Promise<ArrayBuffer> {
    const w = where('encrypt');
    return call('encrypt', [algorithmDict(algorithm, CIPHER, w), descriptor(key, w), bytes(data, w)]) as Promise<ArrayBuffer>;
  }

  async decrypt(algorithm: unknown, key: unknown, data: unknown): Promise<ArrayBuffer> {
    const w = where('decrypt');
    return call('decrypt', [algorithmDict(algorithm, CIPHER, w), descriptor(key, w), bytes(data, w)]) as Promise<ArrayBuffer>;
  }

  async sign(algorithm: unknown, key: unknown, data: unknown): Promise<ArrayBuffer> {
    const w = where('sign');
    return call('sign', [algorithmDict(algorithm, SIGN, w), descriptor(key, w), bytes(data, w)]) as Promise<ArrayBuffer>;
  }

  async verify(algorithm: unknown, key: unknown, signature: unknown, data: unknown): Promise<boolean> {
    const w = where('verify');
    return call('verify', [algorithmDict(algorithm, SIGN, w), descriptor(key, w), bytes(signature, w), bytes(data, w)]) as Promise<boolean>;
  }

  async generateKey(algorithm: unknown, extractable: unknown, usages: unknown): Promise<unknown> {
    const w = where('generateKey');
    const result = await call('generateKey', [algorithmDict(algorithm, GENERATE_KEY, w), usageList(usages, w)]) as KeyDescriptor | { publicKey: KeyDescriptor; privateKey: KeyDescriptor };
    // §14.3.6: a pair's public key is always extractable.
    if ('publicKey' in result) {
      return { publicKey: keyFromDescriptor(result.publicKey, true), privateKey: keyFromDescriptor(result.privateKey, Boolean(extractable)) };
    }
    return keyFromDescriptor(result, Boolean(extractable));
  }

  async importKey(format: unknown, keyData_: unknown, algorithm: unknown, extractable: unknown, usages: unknown): Promise<unknown> {
    const w = where('importKey');
    const f = shortName(format, w);
    const d = await call('importKey', [f, keyData(f, keyData_, w), algorithmDict(algorithm, IMPORT_KEY, w), usageList(usages, w)]) as KeyDescriptor;
    return importedKey(d, extractable, w);
  }

  async exportKey(format: unknown, key: unknown): Promise<unknown> {
    const w = where('exportKey');
    const d = descriptor(key, w);
    requireExtractable(key, w);
    const f = shortName(format, w);
    // §23.8 / Secure Curves: "raw" exports an elliptic-curve key's public point only. Node calls a
    // private key in "raw" unsupported; the standard (and workerd) an InvalidAccessError.
    if (f === 'raw' && d.type === 'private' && RAW_PUBLIC_ONLY.has(String(d.algorithm.name))) {
      throw new DOMException(`${w}: only a public ${String(d.algorithm.name)} key exports as raw`, 'InvalidAccessError');
    }
    const exported = await call('exportKey', [f, d]);
    return exported instanceof ArrayBuffer ? exported : jwkInOrder(exported as Record<string, unknown>);
  }

  async deriveBits(algorithm: unknown, baseKey: unknown, length: unknown = null): Promise<ArrayBuffer> {
    const w = where('deriveBits');
    return call('deriveBits', [algorithmDict(algorithm, DERIVE_BITS, w), descriptor(baseKey, w), length === null ? null : toNumber(length)]) as Promise<ArrayBuffer>;
  }

  async deriveKey(algorithm: unknown, baseKey: unknown, derivedKeyType: unknown, extractable: unknown, usages: unknown): Promise<unknown> {
    const w = where('deriveKey');
    const d = await call('deriveKey', [algorithmDict(algorithm, DERIVE_BITS, w), descriptor(baseKey, w), algorithmDict(derivedKeyType, DERIVED_KEY, w), usageList(usages, w)]) as KeyDescriptor;
    return keyFromDescriptor(d, Boolean(extractable));
  }

  async wrapKey(format: unknown, key: unknown, wrappingKey: unknown, wrapAlgorithm: unknown): Promise<ArrayBuffer> {
    const w = where('wrapKey');
    const d = descriptor(key, w);
    requireExtractable(key, w);
    return call('wrapKey', [shortName(format, w), d, descriptor(wrappingKey, w), algorithmDict(wrapAlgorithm, CIPHER, w)]) as Promise<ArrayBuffer>;
  }

  async unwrapKey(
    format: unknown, wrappedKey: unknown, unwrappingKey: unknown, unwrapAlgorithm: unknown, unwrappedKeyAlgorithm: unknown,
    extractable: unknown, usages: unknown,
  ): Promise<unknown> {
    const w = where('unwrapKey');
    const d = await call('unwrapKey', [
      shortName(format, w), bytes(wrappedKey, w), descriptor(unwrappingKey, w), algorithmDict(unwrapAlgorithm, CIPHER, w),
      algorithmDict(unwrappedKeyAlgorithm, IMPORT_KEY, w), usageList(usages, w),
    ]) as KeyDescriptor;
    return importedKey(d, extractable, w);
  }

  /**
   * Cloudflare's extension, for checking MACs such as webhook signatures: whether a and b hold the
   * same bytes, in a time that depends on their length only. Buffers of different lengths are a
   * TypeError, as in workerd, rather than an early false.
   */
  timingSafeEqual(a: unknown, b: unknown): boolean {
    const w = where('timingSafeEqual');
    requireArguments(arguments.length, 2, w);
    const x = viewBufferSource(a, false, w);
    if (x === null) throw new TypeError(`${w}: parameter 1 is not of type 'BufferSource'`);
    const y = viewBufferSource(b, false, w);
    if (y === null) throw new TypeError(`${w}: parameter 2 is not of type 'BufferSource'`);
    if (x.byteLength !== y.byteLength) throw new TypeError(`${w}: Input buffers must have the same byte length.`);
    let difference = 0;
    for (let i = 0; i < x.length; i++) difference |= x[i]! ^ y[i]!;
    return difference === 0;
  }

  get [Symbol.toStringTag]() {
    return 'SubtleCrypto';
  }
}

export const subtle = new SubtleCrypto();
export { SubtleCrypto };
