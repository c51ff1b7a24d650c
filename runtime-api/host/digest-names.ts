// The digest algorithms isolates and process sandboxes offer, by Web Crypto name, with node:crypto's
// name for each. MD5 is not Web Crypto's; Workers offer it for digests (ETags, legacy checksums),
// and so does islet.
const DIGESTS: Record<string, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512', MD5: 'md5' };
// The lookup runs in the tenant's realm (isolates): with the built-ins there were at load, and its
// answer checked against the names themselves. A replaced Object.hasOwn and toUpperCase (with a
// property on Object.prototype) had it send the host an array of 64 MB strings as the name.
const { apply } = Reflect;
const { toUpperCase } = String.prototype;
const NAMES = Object.freeze(Object.assign(Object.create(null) as Record<string, string>, DIGESTS));

/** node:crypto's names of the digests offered: what the host accepts from an isolate. */
export const NODE_DIGESTS: ReadonlySet<string> = new Set(Object.values(DIGESTS));

/**
 * node:crypto's name for the digest `algorithm` names (a name or `{ name }`, any case). A
 * TypeError when it is neither a string nor has a string name, and Web Crypto's NotSupportedError,
 * made with the caller's DOMException, for one not offered.
 */
export function nodeDigestName(algorithm: unknown, where: string, DOMExceptionClass: typeof DOMException): string {
  const name = typeof algorithm === 'string' ? algorithm : (algorithm as { name?: unknown } | null)?.name;
  if (typeof name !== 'string') throw new TypeError(`${where}: the algorithm must be a name or { name }`);
  const upper = name.length <= 16 ? apply(toUpperCase, name, []) as string : '';
  const nodeName = typeof upper === 'string' ? NAMES[upper] : undefined;
  if (nodeName !== 'sha1' && nodeName !== 'sha256' && nodeName !== 'sha384' && nodeName !== 'sha512' && nodeName !== 'md5') throw new DOMExceptionClass(`Unrecognized algorithm name: ${name}`, 'NotSupportedError');
  return nodeName;
}
