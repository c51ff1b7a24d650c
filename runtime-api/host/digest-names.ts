// The digest algorithms isolates and process sandboxes offer, by Web Crypto name, with node:crypto's
// name for each. MD5 is not Web Crypto's; Workers offer it for digests (ETags, legacy checksums),
// and so does islet.
const DIGESTS: Record<string, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512', MD5: 'md5' };

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
  const nodeName = Object.hasOwn(DIGESTS, name.toUpperCase()) ? DIGESTS[name.toUpperCase()] : undefined;
  if (nodeName === undefined) throw new DOMExceptionClass(`Unrecognized algorithm name: ${name}`, 'NotSupportedError');
  return nodeName;
}
