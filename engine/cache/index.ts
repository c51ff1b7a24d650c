export { CacheError, CacheStore, FunctionCache, type CachedResponse, type CacheRequest } from './cache-store.ts';
export { runCacheOp, type CacheOpResult } from './cache-ops.ts';
