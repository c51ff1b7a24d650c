// The isolate's Cache API (cache-api.ts) over host calls, answered through settleCache. Each call
// counts as a subrequest on the host, as in Workers.
import { headersToFlat, Request, responseFromNetwork } from '../web/index.ts';
import { defineCacheApi, type CachedAnswer } from './cache-api.ts';
import { host } from './host-calls.ts';
import { PendingCalls } from './pending-calls.ts';

const pending = new PendingCalls<CachedAnswer | boolean | null>();

export const { Cache, CacheStorage, caches } = defineCacheApi({
  Request,
  flatHeaders: (headers) => [...headersToFlat(headers)],
  call: (op, cacheName, request, response, ignoreMethod) =>
    pending.start(undefined, (id) => host().cacheOp(id, op, cacheName, request, response, ignoreMethod), () => {}),
  responseOf: ([status, statusText, headers, body]) => responseFromNetwork(status, statusText, headers, body, []),
});

/** Called by the host when cache call `id` is done: its answer, or (not ok) why it was refused. */
export function settleCache(id: number, ok: boolean, value: unknown): void {
  const p = pending.take(id);
  if (!p) return;
  if (ok) p.resolve(value as CachedAnswer | boolean | null);
  else p.reject(new TypeError(String(value)));
}
