// crypto.subtle, first part: digest (Web Crypto §14.3.5) with SHA-1/256/384/512, computed by the
// host's node:crypto. The other SubtleCrypto methods are not there yet; they reject with
// NotSupportedError, which is what Web Crypto itself answers for an unsupported algorithm.
import { DOMException } from '../web/index.ts';
import { viewBufferSource } from '../webidl/index.ts';
import { host } from './host-calls.ts';

const DIGESTS: Record<string, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

/** Web Crypto §18.4 "normalize an algorithm", for the digest algorithms: a name or { name }. */
function digestName(algorithm: unknown): string {
  const name = typeof algorithm === 'string' ? algorithm : (algorithm as { name?: unknown } | null)?.name;
  if (typeof name !== 'string') throw new TypeError('crypto.subtle.digest: the algorithm must be a name or { name }');
  const upper = name.toUpperCase();
  const hostName = DIGESTS[upper];
  if (!hostName) throw new DOMException(`Unrecognized algorithm name: ${name}`, 'NotSupportedError');
  return hostName;
}

function notYet(method: string): () => Promise<never> {
  return () => Promise.reject(new DOMException(`crypto.subtle.${method} is not available in islet yet`, 'NotSupportedError'));
}

class SubtleCrypto {
  async digest(algorithm: unknown, data: unknown): Promise<ArrayBuffer> {
    const name = digestName(algorithm);
    const bytes = viewBufferSource(data, false, "Failed to execute 'digest' on 'SubtleCrypto'");
    if (bytes === null) throw new TypeError("Failed to execute 'digest' on 'SubtleCrypto': data is not a BufferSource");
    // A copy: the caller may change its buffer while the digest is computed (§14.3.5 step 2).
    return host().digest(name, bytes.slice().buffer);
  }

  get [Symbol.toStringTag]() {
    return 'SubtleCrypto';
  }
}

for (const method of ['encrypt', 'decrypt', 'sign', 'verify', 'generateKey', 'deriveKey', 'deriveBits', 'importKey', 'exportKey', 'wrapKey', 'unwrapKey']) {
  Object.defineProperty(SubtleCrypto.prototype, method, { value: notYet(method), writable: true, configurable: true });
}

export const subtle = new SubtleCrypto();
export { SubtleCrypto };
