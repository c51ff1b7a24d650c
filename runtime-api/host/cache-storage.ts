// The isolate's Cache API (cache-api.ts) over host calls, answered through settleCache. Each call
// counts as a subrequest on the host, as in Workers.
import { headersToFlat, Request, responseFromNetwork } from '../web/index.ts';
import { defineCacheApi, type CachedAnswer } from './cache-api.ts';
import { host } from './host-calls.ts';
import { PendingCalls } from './pending-calls.ts';

const pending = new PendingCalls<CachedAnswer | boolean | null>();

// Checked before the call copies its arguments to the host, which refuses the same but only once
// it has them: 1,000 unawaited match() calls on a 1 MB cache name piled 1 GB up on the host,
// held its event loop ~0.9 s (its limit watchdog with it) and, four requests at once, ended it.
const MAX_PENDING = 32;
const MAX_CACHE_NAME = 1024;

export const { Cache, CacheStorage, caches } = defineCacheApi({
  Request,
  flatHeaders: (headers) => [...headersToFlat(headers)],
  call: (op, cacheName, request, response, ignoreMethod) => {
    if (pending.size >= MAX_PENDING) return Promise.reject(new TypeError(`more than ${MAX_PENDING} Cache API calls are already pending`));
    if (typeof cacheName === 'string' && cacheName.length > MAX_CACHE_NAME) {
      return Promise.reject(new TypeError(`cache names are at most ${MAX_CACHE_NAME} characters`));
    }
    return pending.start(undefined, (id) => host().cacheOp(id, op, cacheName, request, response, ignoreMethod), () => {});
  },
  responseOf: ([status, statusText, headers, body]) => responseFromNetwork(status, statusText, headers, body, []),
});

/** Called by the host when cache call `id` is done: its answer, or (not ok) why it was refused. */
export function settleCache(id: number, ok: boolean, value: unknown): void {
  const p = pending.take(id);
  if (!p) return;
  if (ok) p.resolve(value as CachedAnswer | boolean | null);
  else p.reject(new TypeError(String(value)));
}
