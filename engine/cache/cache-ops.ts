// One Cache API call from a sandbox, checked: its arguments come from tenant code (through the
// isolate boundary or a process's channel), so every field is checked for its type here, once,
// for both tiers.
import { CacheError, type CachedResponse, type CacheRequest, type FunctionCache } from './cache-store.ts';

export type CacheOpResult = { ok: true; value: [number, string, string[], ArrayBuffer | null] | boolean | number | null } | { ok: false; message: string };

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.length % 2 === 0 && v.every((s) => typeof s === 'string');

/** Runs `op` on `cache`; what the Cache API refuses (or a malformed call) is a failure with its message. */
export function runCacheOp(cache: FunctionCache | undefined, op: unknown, cacheName: unknown, request: unknown, response: unknown, ignoreMethod: unknown): CacheOpResult {
  if (!cache) return { ok: false, message: 'the Cache API is not available to this function' };
  if (typeof cacheName !== 'string' || !Array.isArray(request) || typeof request[0] !== 'string' || typeof request[1] !== 'string' || !isStrings(request[2])) {
    return { ok: false, message: 'malformed cache call' };
  }
  const req: CacheRequest = { method: request[0], url: request[1], headers: request[2] };
  try {
    switch (op) {
      case 'match': {
        const hit = cache.match(cacheName, req, ignoreMethod === true);
        return { ok: true, value: hit ? [hit.status, hit.statusText, hit.headers, hit.body] : null };
      }
      case 'delete':
        return { ok: true, value: cache.delete(cacheName, req, ignoreMethod === true) };
      case 'limit':
        // The runtime stops reading a body to put past it.
        return { ok: true, value: cache.maxBytes };
      case 'put': {
        const res = responseOf(response);
        if (!res) return { ok: false, message: 'malformed cache call' };
        cache.put(cacheName, req, res);
        return { ok: true, value: null };
      }
      default:
        return { ok: false, message: 'malformed cache call' };
    }
  } catch (err) {
    if (err instanceof CacheError) return { ok: false, message: err.message };
    throw err;
  }
}

function responseOf(response: unknown): CachedResponse | undefined {
  if (!Array.isArray(response)) return undefined;
  const [status, statusText, headers, body] = response as unknown[];
  if (!Number.isInteger(status) || (status as number) < 200 || (status as number) > 599 || typeof statusText !== 'string' || !isStrings(headers)) return undefined;
  // A copy the cache owns: a view may share its buffer with a frame or anything else.
  const bytes = body === null ? null : body instanceof ArrayBuffer ? body : ArrayBuffer.isView(body) ? body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) : undefined;
  if (bytes === undefined || bytes instanceof SharedArrayBuffer) return undefined;
  return { status: status as number, statusText, headers, body: bytes };
}
