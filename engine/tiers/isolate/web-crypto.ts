// crypto.subtle for isolates, executed by the host's node:crypto webcrypto. Keys never cross as
// host objects: a key lives in the isolate as its algorithm, usages and key material (in a
// private field the tenant cannot read), and every operation re-imports it here. Node's webcrypto
// does the Web Crypto checks (algorithm and usage matching, parameter validation) and throws the
// spec's DOMExceptions, which go back to the tenant by name.
import { type CipherGCMTypes, type Cipheriv, createCipheriv, createDecipheriv, type Decipheriv, webcrypto } from 'node:crypto';
import { MAX_PBKDF2_BITS, MAX_PBKDF2_ITERATIONS, MAX_RSA_MODULUS_BITS } from '../../limits.ts';

type Key = webcrypto.CryptoKey;
type Usage = webcrypto.KeyUsage;
type Algorithm = Record<string, unknown> & { name: string };
type Format = 'raw' | 'pkcs8' | 'spki' | 'jwk';

// node's typings overload on formats and algorithm shapes; here both are data from the isolate,
// checked once below and then by node itself.
interface LooseSubtle {
  encrypt(algorithm: Algorithm, key: Key, data: ArrayBuffer): Promise<ArrayBuffer>;
  decrypt(algorithm: Algorithm, key: Key, data: ArrayBuffer): Promise<ArrayBuffer>;
  sign(algorithm: Algorithm, key: Key, data: ArrayBuffer): Promise<ArrayBuffer>;
  verify(algorithm: Algorithm, key: Key, signature: ArrayBuffer, data: ArrayBuffer): Promise<boolean>;
  generateKey(algorithm: Algorithm, extractable: boolean, usages: Usage[]): Promise<Key | webcrypto.CryptoKeyPair>;
  importKey(format: Format, data: unknown, algorithm: Algorithm, extractable: boolean, usages: Usage[]): Promise<Key>;
  exportKey(format: Format, key: Key): Promise<ArrayBuffer | webcrypto.JsonWebKey>;
  deriveBits(algorithm: Algorithm, baseKey: Key, length: number | null): Promise<ArrayBuffer>;
  deriveKey(algorithm: Algorithm, baseKey: Key, derivedAlgorithm: Algorithm, extractable: boolean, usages: Usage[]): Promise<Key>;
  wrapKey(format: Format, key: Key, wrappingKey: Key, algorithm: Algorithm): Promise<ArrayBuffer>;
  unwrapKey(format: Format, wrapped: ArrayBuffer, unwrappingKey: Key, algorithm: Algorithm, unwrappedAlgorithm: Algorithm, extractable: boolean, usages: Usage[]): Promise<Key>;
}
const subtle = webcrypto.subtle as unknown as LooseSubtle;

/** A key as it crosses the boundary: what the isolate's CryptoKey holds. */
export interface KeyDescriptor {
  type: 'secret' | 'private' | 'public';
  algorithm: Algorithm;
  usages: Usage[];
  /** raw (secret), pkcs8 (private) or spki (public). */
  material: ArrayBuffer;
}

/** What failed, in terms the isolate turns back into a DOMException or TypeError. */
export interface CryptoFailure {
  name: string;
  message: string;
}

const TYPES = new Set(['secret', 'private', 'public']);
const USAGES = new Set(['encrypt', 'decrypt', 'sign', 'verify', 'deriveKey', 'deriveBits', 'wrapKey', 'unwrapKey']);
const FORMATS = new Set(['raw', 'pkcs8', 'spki', 'jwk']);
// Key-derivation inputs that Web Crypto never lets anyone export, not even to re-import them.
const UNEXPORTABLE = new Set(['PBKDF2', 'HKDF']);

function materialFormat(type: KeyDescriptor['type']): 'raw' | 'pkcs8' | 'spki' {
  return type === 'secret' ? 'raw' : type === 'private' ? 'pkcs8' : 'spki';
}

class CryptoInputError extends TypeError {}

/** The descriptor came from the isolate, so check its shape before trusting any of it. */
function checkDescriptor(value: unknown): KeyDescriptor {
  const d = value as Partial<KeyDescriptor> | null;
  if (
    d === null || typeof d !== 'object' || !TYPES.has(d.type as string) || !(d.material instanceof ArrayBuffer)
    || d.algorithm === null || typeof d.algorithm !== 'object' || typeof d.algorithm.name !== 'string'
    || !Array.isArray(d.usages) || !d.usages.every((u) => USAGES.has(u))
  ) {
    throw new CryptoInputError('not a CryptoKey');
  }
  return d as KeyDescriptor;
}

function checkAlgorithm(value: unknown): Algorithm {
  if (value === null || typeof value !== 'object' || typeof (value as Algorithm).name !== 'string') {
    throw new CryptoInputError('the algorithm must be a name or an object with a name');
  }
  let algorithm = value as Algorithm;
  // The runtime keeps names short; one that is not came past it (a tenant's patched realm).
  if (algorithm.name.length > 64) throw Object.assign(new Error('no algorithm has so long a name'), { name: 'NotSupportedError' });
  // Workers' name for Ed25519 from before Web Crypto had it, still in Discord bots' signature
  // checks: `{ name: 'NODE-ED25519', namedCurve: 'NODE-ED25519' }`, for keys, signing and verifying.
  if (algorithm.name.toUpperCase() === 'NODE-ED25519') {
    const { namedCurve: _curve, ...rest } = algorithm;
    algorithm = { ...rest, name: 'Ed25519' };
  }
  // The runtime made these numbers, with whatever `Number` the tenant left on its global object:
  // anything else here is refused, or a string "5000000" would pass the bounds below unchecked.
  for (const member of NUMBER_MEMBERS) {
    if (algorithm[member] !== undefined && (typeof algorithm[member] !== 'number' || !Number.isFinite(algorithm[member]))) {
      throw new CryptoInputError(`the algorithm's ${member} must be a number`);
    }
  }
  // Bounds on work one call can put on the host's thread pool (workerd has the same PBKDF2 cap).
  if (typeof algorithm.iterations === 'number' && algorithm.iterations > MAX_PBKDF2_ITERATIONS) {
    throw Object.assign(new Error(`PBKDF2 with more than ${MAX_PBKDF2_ITERATIONS} iterations is not supported`), { name: 'NotSupportedError' });
  }
  if (typeof algorithm.modulusLength === 'number' && algorithm.modulusLength > MAX_RSA_MODULUS_BITS) {
    throw Object.assign(new Error(`RSA keys over ${MAX_RSA_MODULUS_BITS} bits are not supported`), { name: 'NotSupportedError' });
  }
  return algorithm;
}

const NUMBER_MEMBERS = ['length', 'tagLength', 'iterations', 'saltLength', 'modulusLength'];

/**
 * PBKDF2's work grows with the bits asked for as well as the iterations (one run of them per
 * hash-sized block): 256 × 300 bits at 100,000 iterations held a pool thread for seconds. The
 * bits one deriveBits may ask of it are bounded too.
 */
function checkDerivedLength(algorithm: Algorithm, length: unknown): number | null {
  if (length === null || length === undefined) return null;
  if (typeof length !== 'number' || !Number.isFinite(length)) throw new CryptoInputError('deriveBits: the length must be a number');
  if (algorithm.name.toUpperCase() === 'PBKDF2' && length > MAX_PBKDF2_BITS) {
    throw Object.assign(new Error(`PBKDF2 deriving more than ${MAX_PBKDF2_BITS} bits is not supported`), { name: 'NotSupportedError' });
  }
  return length;
}

function checkUsages(value: unknown): Usage[] {
  if (!Array.isArray(value) || !value.every((u) => typeof u === 'string')) throw new CryptoInputError('key usages must be a list of strings');
  return value as Usage[];
}

function checkFormat(value: unknown): Format {
  if (!FORMATS.has(value as string)) throw new CryptoInputError(`unknown key format ${JSON.stringify(value)}`);
  return value as Format;
}

function keyData(format: string, value: unknown): ArrayBuffer | webcrypto.JsonWebKey {
  if (format === 'jwk') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CryptoInputError('JWK key data must be an object');
    return value as webcrypto.JsonWebKey;
  }
  if (!(value instanceof ArrayBuffer)) throw new CryptoInputError('key data must be a BufferSource');
  return value;
}

/** Turns an isolate's key back into a host key; it lives for this one operation. */
function importDescriptor(d: KeyDescriptor): Promise<Key> {
  const extractable = !UNEXPORTABLE.has(d.algorithm.name.toUpperCase());
  return subtle.importKey(materialFormat(d.type), d.material, d.algorithm, extractable, d.usages);
}

/**
 * A host key as the isolate will hold it. `source` is the raw input for the algorithms whose keys
 * cannot be exported (PBKDF2, HKDF): they are only ever imported from raw bytes.
 */
async function describe(key: Key, source?: ArrayBuffer): Promise<KeyDescriptor> {
  const type = key.type as KeyDescriptor['type'];
  const material = key.extractable ? (await subtle.exportKey(materialFormat(type), key)) as ArrayBuffer : source;
  if (!material) throw new Error(`a ${key.algorithm.name} key cannot be held by an isolate`);
  // Members in workerd's order (node puts an HMAC key's length before its hash), so that a key's
  // algorithm serialises the same on both runtimes.
  const { name, hash, ...rest } = key.algorithm as Algorithm;
  const algorithm = (name === 'HMAC' ? { name, hash, ...rest } : { ...key.algorithm }) as Algorithm;
  return { type, algorithm, usages: [...key.usages], material };
}

async function describeGenerated(result: Key | webcrypto.CryptoKeyPair): Promise<unknown> {
  if ('privateKey' in result) {
    return { publicKey: await describe(result.publicKey), privateKey: await describe(result.privateKey) };
  }
  return describe(result);
}

/** For ECDH and X25519, deriveBits names the peer's public key inside the algorithm. */
async function withPeerKey(algorithm: Algorithm): Promise<Algorithm> {
  if (algorithm.public === undefined) return algorithm;
  return { ...algorithm, public: await importDescriptor(checkDescriptor(algorithm.public)) };
}

/** Import keys with extractable true so they can be re-exported as material; the isolate holds the flag. */
async function importForIsolate(format: string, data: unknown, algorithm: Algorithm, usages: Usage[]): Promise<KeyDescriptor> {
  const checkedFormat = checkFormat(format);
  const bytes = keyData(checkedFormat, data);
  if (UNEXPORTABLE.has(algorithm.name.toUpperCase())) {
    const key = await subtle.importKey(checkedFormat, bytes, algorithm, false, usages);
    return describe(key, bytes as ArrayBuffer);
  }
  return describe(await subtle.importKey(checkedFormat, bytes, algorithm, true, usages));
}

// Web Crypto takes AES-GCM IVs of any length; node's webcrypto refuses those under 12 bytes (and
// OpenSSL, under both, those over 128). The short ones run on node's GCM cipher directly, after
// the checks node's webcrypto would have made.
const GCM_TAG_LENGTHS = new Set([32, 64, 96, 104, 112, 120, 128]);

function hasShortGcmIv(algorithm: Algorithm): boolean {
  const iv = algorithm.iv;
  return algorithm.name.toUpperCase() === 'AES-GCM' && iv instanceof ArrayBuffer && iv.byteLength > 0 && iv.byteLength < 12;
}

function webCryptoError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

/** Web Crypto §30.4 AES-GCM encrypt and decrypt, for an IV node's webcrypto refuses. */
async function aesGcmShortIv(op: 'encrypt' | 'decrypt', algorithm: Algorithm, d: KeyDescriptor, data: ArrayBuffer): Promise<ArrayBuffer> {
  const key = await importDescriptor(d);
  if (key.algorithm.name !== 'AES-GCM' || !key.usages.includes(op)) {
    throw webCryptoError('InvalidAccessError', `the key is not an AES-GCM key that may ${op}`);
  }
  const tagLength = algorithm.tagLength ?? 128;
  if (!GCM_TAG_LENGTHS.has(tagLength as number)) throw webCryptoError('OperationError', `${String(tagLength)} is not a valid AES-GCM tag length`);
  const tagBytes = (tagLength as number) / 8;
  const cipher = `aes-${d.material.byteLength * 8}-gcm` as CipherGCMTypes;
  const keyBytes = new Uint8Array(d.material);
  const iv = new Uint8Array(algorithm.iv as ArrayBuffer);
  const aad = algorithm.additionalData === undefined ? undefined : new Uint8Array(bytes(algorithm.additionalData));
  const input = new Uint8Array(data);
  let out: Buffer;
  if (op === 'encrypt') {
    const c = createCipheriv(cipher, keyBytes, iv, { authTagLength: tagBytes });
    if (aad) c.setAAD(aad);
    out = Buffer.concat([...(await updateInPieces(c, input)), c.final(), c.getAuthTag()]);
  } else {
    if (input.byteLength < tagBytes) throw webCryptoError('OperationError', 'the data is shorter than the authentication tag');
    const c = createDecipheriv(cipher, keyBytes, iv, { authTagLength: tagBytes });
    c.setAuthTag(input.subarray(input.byteLength - tagBytes));
    if (aad) c.setAAD(aad);
    try {
      out = Buffer.concat([...(await updateInPieces(c, input.subarray(0, input.byteLength - tagBytes))), c.final()]);
    } catch {
      throw webCryptoError('OperationError', 'The operation failed for an operation-specific reason');
    }
  }
  return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
}

// These ciphers run on the engine's event loop, not node's crypto thread pool: a tenant's 100 MB
// would hold every other tenant's I/O for ~50 ms. In 1 MB pieces (~0.5 ms each) with a turn of the
// loop between them, it never holds it for long.
const GCM_PIECE_BYTES = 1 << 20;

async function updateInPieces(c: Cipheriv | Decipheriv, input: Uint8Array): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let at = 0; at < input.byteLength; at += GCM_PIECE_BYTES) {
    if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    out.push(c.update(input.subarray(at, at + GCM_PIECE_BYTES)));
  }
  return out;
}

type Operation = (args: unknown[]) => Promise<unknown>;

const OPERATIONS: Record<string, Operation> = {
  async encrypt([algorithm, key, data]) {
    const checked = checkAlgorithm(algorithm);
    if (hasShortGcmIv(checked)) return aesGcmShortIv('encrypt', checked, checkDescriptor(key), bytes(data));
    return subtle.encrypt(checked, await importDescriptor(checkDescriptor(key)), bytes(data));
  },
  async decrypt([algorithm, key, data]) {
    const checked = checkAlgorithm(algorithm);
    if (hasShortGcmIv(checked)) return aesGcmShortIv('decrypt', checked, checkDescriptor(key), bytes(data));
    return subtle.decrypt(checked, await importDescriptor(checkDescriptor(key)), bytes(data));
  },
  async sign([algorithm, key, data]) {
    return subtle.sign(checkAlgorithm(algorithm), await importDescriptor(checkDescriptor(key)), bytes(data));
  },
  async verify([algorithm, key, signature, data]) {
    return subtle.verify(checkAlgorithm(algorithm), await importDescriptor(checkDescriptor(key)), bytes(signature), bytes(data));
  },
  async generateKey([algorithm, usages]) {
    return describeGenerated(await subtle.generateKey(checkAlgorithm(algorithm), true, checkUsages(usages)));
  },
  async importKey([format, data, algorithm, usages]) {
    return importForIsolate(format as string, data, checkAlgorithm(algorithm), checkUsages(usages));
  },
  async exportKey([format, key]) {
    return subtle.exportKey(checkFormat(format), await importDescriptor(checkDescriptor(key)));
  },
  async deriveBits([algorithm, key, length]) {
    const base = await importDescriptor(checkDescriptor(key));
    const checked = checkAlgorithm(algorithm);
    return subtle.deriveBits(await withPeerKey(checked), base, checkDerivedLength(checked, length));
  },
  async deriveKey([algorithm, key, derivedAlgorithm, usages]) {
    const base = await importDescriptor(checkDescriptor(key));
    const checked = checkAlgorithm(algorithm);
    const target = checkAlgorithm(derivedAlgorithm);
    // The derived key's length is what PBKDF2 is asked for (an HMAC key's may be anything).
    checkDerivedLength(checked, target.length);
    const derived = await subtle.deriveKey(await withPeerKey(checked), base, target, true, checkUsages(usages));
    return describe(derived);
  },
  async wrapKey([format, key, wrappingKey, algorithm]) {
    const wrapping = await importDescriptor(checkDescriptor(wrappingKey));
    return subtle.wrapKey(checkFormat(format), await importDescriptor(checkDescriptor(key)), wrapping, checkAlgorithm(algorithm));
  },
  async unwrapKey([format, wrapped, unwrappingKey, algorithm, unwrappedAlgorithm, usages]) {
    const unwrapping = await importDescriptor(checkDescriptor(unwrappingKey));
    return describe(await subtle.unwrapKey(
      checkFormat(format), bytes(wrapped), unwrapping, checkAlgorithm(algorithm), checkAlgorithm(unwrappedAlgorithm), true, checkUsages(usages),
    ));
  },
};

function bytes(value: unknown): ArrayBuffer {
  if (!(value instanceof ArrayBuffer)) throw new CryptoInputError('data must be a BufferSource');
  return value;
}

/**
 * Runs one SubtleCrypto operation for an isolate. Resolves with the result (ArrayBuffer, boolean,
 * JWK object or key descriptor(s)) or rejects with a CryptoFailure, never with a host object.
 */
export async function runSubtle(op: string, args: unknown): Promise<unknown> {
  const operation = Object.hasOwn(OPERATIONS, op) ? OPERATIONS[op] : undefined;
  try {
    if (!operation || !Array.isArray(args)) throw new CryptoInputError(`unknown operation ${JSON.stringify(op)}`);
    return await operation(args);
  } catch (err) {
    throw failure(err);
  }
}

function failure(err: unknown): CryptoFailure {
  if (err instanceof CryptoInputError) return { name: 'TypeError', message: err.message };
  if (err instanceof Error) {
    // Node's webcrypto throws DOMExceptions for Web Crypto errors and TypeErrors (with an ERR_
    // code) for WebIDL conversion failures; anything else is an operation that failed.
    if (err.name === 'TypeError' || err.name === 'RangeError') return { name: 'TypeError', message: err.message };
    if (/^[A-Z][A-Za-z]*Error$/.test(err.name) && err.name !== 'Error') return { name: err.name, message: err.message };
    return { name: 'OperationError', message: err.message };
  }
  return { name: 'OperationError', message: String(err) };
}
