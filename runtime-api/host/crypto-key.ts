// CryptoKey (Web Crypto §13). A key is its algorithm, usages and key material; the material sits
// in a private field that tenant code cannot read, and crosses to the host only as the argument
// of an operation (engine/tiers/isolate/web-crypto.ts), never as a host object.
import { copyOfBytes, plainArray } from '../web/plain-bytes.ts';

/** A key as it crosses the boundary, in the host's shape. */
export interface KeyDescriptor {
  type: 'secret' | 'private' | 'public';
  algorithm: Record<string, unknown>;
  usages: string[];
  /** raw (secret), pkcs8 (private) or spki (public) bytes. */
  material: ArrayBuffer;
}

/** What the runtime reads of a key: its own copies, whatever tenant code did to the exposed ones. */
export interface HeldKey extends KeyDescriptor {
  extractable: boolean;
}

const constructing = Symbol('CryptoKey');
let describeKey: (key: unknown) => HeldKey | undefined;

/** A copy of a key algorithm dictionary: only its hash member and RSA exponent are not primitives. */
function copyAlgorithm(algorithm: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...algorithm };
  const hash = algorithm.hash as { name?: unknown } | undefined;
  if (hash && typeof hash === 'object') copy.hash = { name: hash.name };
  if (algorithm.publicExponent instanceof Uint8Array) copy.publicExponent = copyOfBytes(algorithm.publicExponent, 'CryptoKey');
  return copy;
}

export class CryptoKey {
  readonly #type: KeyDescriptor['type'];
  readonly #extractable: boolean;
  readonly #algorithm: Record<string, unknown>;
  readonly #usages: string[];
  readonly #material: ArrayBuffer;
  // What the getters hand out: tenant code may change these objects, never the key itself.
  readonly #exposedAlgorithm: Record<string, unknown>;
  readonly #exposedUsages: string[];

  // Keys come from SubtleCrypto only (the interface has no constructor).
  constructor(token: symbol, d: KeyDescriptor, extractable: boolean) {
    if (token !== constructing) throw new TypeError('Illegal constructor');
    this.#type = d.type;
    this.#extractable = extractable;
    this.#algorithm = d.algorithm;
    this.#usages = d.usages;
    this.#material = d.material;
    this.#exposedAlgorithm = copyAlgorithm(d.algorithm);
    this.#exposedUsages = [...d.usages];
  }

  static {
    // A function of the module, not a static method: a method would hand tenants the material.
    describeKey = (key) => {
      if (typeof key !== 'object' || key === null || !(#material in key)) return undefined;
      const k = key as CryptoKey;
      return { type: k.#type, algorithm: copyAlgorithm(k.#algorithm), usages: copyList(k.#usages), material: k.#material, extractable: k.#extractable };
    };
  }

  get type(): string {
    return this.#type;
  }

  get extractable(): boolean {
    return this.#extractable;
  }

  get algorithm(): Record<string, unknown> {
    return this.#exposedAlgorithm;
  }

  get usages(): string[] {
    return this.#exposedUsages;
  }

  get [Symbol.toStringTag](): string {
    return 'CryptoKey';
  }
}

export function keyFromDescriptor(d: KeyDescriptor, extractable: boolean): CryptoKey {
  return new CryptoKey(constructing, d, extractable);
}

/** What `key` holds, or a TypeError naming `where` when it is not a CryptoKey. */
export function heldKey(key: unknown, where: string): HeldKey {
  const d = describeKey(key);
  if (!d) throw new TypeError(`${where}: the key is not a CryptoKey`);
  return d;
}

/** A key's usages copied with an index loop: spreading went through the tenant's Array iterator. */
function copyList(list: readonly string[]): string[] {
  const copy = plainArray<string>();
  for (let i = 0; i < list.length; i++) copy[i] = list[i]!;
  return copy;
}
