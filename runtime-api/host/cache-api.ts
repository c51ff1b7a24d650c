// The Workers Cache API's shape — `caches.default`, `caches.open(name)`, each a Cache with match,
// put and delete — for both runtimes: the isolate's (cache-storage.ts, over host calls) and the
// process tiers' (engine/tiers/process/sandbox-runtime.ts, over its channel), each with its own
// Request and Response. What a cache keeps, and for how long, is the host's (engine/cache/): the
// runtime turns the tenant's Request and Response into plain data, reads the body to put, and
// makes a Response of what the host answers.

import { byteLengthOf, copyOfView, joinBuffers } from '../web/plain-bytes.ts';
import { resumingHere } from '../dispatch/chain-depth.ts';
import { checkHeadSize } from '../fetch/head-size.ts';

/** A kept response as the host answers it: [status, statusText, flat headers, body]. */
export type CachedAnswer = [status: number, statusText: string, headers: string[], body: ArrayBuffer | null];

interface RequestLike {
  readonly method: string;
  readonly url: string;
  readonly headers: unknown;
}

interface ResponseLike {
  readonly status: number;
  readonly statusText: string;
  readonly headers: unknown;
  readonly body: unknown;
  readonly bodyUsed: boolean;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface CacheTransport<Req extends RequestLike, Res> {
  Request: new (input: string) => Req;
  flatHeaders(headers: Req['headers']): string[];
  /** One call to the host: a kept response, a boolean (delete), or null (a miss, a put). */
  call(op: 'match' | 'put' | 'delete' | 'limit', cacheName: string, request: [string, string, string[]], response: CachedAnswer | null, ignoreMethod: boolean): Promise<CachedAnswer | boolean | number | null>;
  responseOf(answer: CachedAnswer): Res;
}

export interface CacheQueryOptions {
  ignoreMethod?: boolean;
}

export function defineCacheApi<Req extends RequestLike, Res>(t: CacheTransport<Req, Res>) {
  const constructing = Symbol('Cache');
  const required = (given: number, count: number, method: string, on: string) => {
    if (given < count) throw new TypeError(`Failed to execute '${method}' on '${on}': ${count} argument${count === 1 ? '' : 's'} required, but only ${given} present`);
  };
  // The function's cacheMb in bytes, asked of the host once: a body bigger than the whole cache is
  // refused as it is read, rather than read whole first (up to the sandbox's memory limit).
  let limit: Promise<number> | undefined;
  const cacheLimit = (): Promise<number> => (limit ??= t.call('limit', '', ['GET', 'http://limit.invalid/', []], null, false).then(Number));

  const requestOf = (input: unknown): Req => (input instanceof t.Request ? input : new t.Request(String(input)));
  // What goes to the host is plain strings, checked here before the copy (the host refuses too, but
  // only once it holds them): a tenant's object can pass `instanceof Request` with a url of its
  // own, or put a "response" whose statusText is an array of a thousand 1 MB strings (that one
  // request ended the host process, out of heap).
  const wire = (request: Req): [string, string, string[]] => {
    const method: unknown = request.method, url: unknown = request.url, headers = t.flatHeaders(request.headers);
    if (typeof method !== 'string' || typeof url !== 'string') throw new TypeError('Cache: the request is not a Request');
    return [method, url, checkHeadSize(headers, method.length + url.length, 'Cache', "the request's URL, status text and headers")];
  };

  class Cache {
    readonly #name: string;

    constructor(token?: unknown, name?: string) {
      if (token !== constructing) throw new TypeError('Illegal constructor');
      this.#name = name!;
    }

    async match(request: unknown, options?: CacheQueryOptions): Promise<Res | undefined> {
      required(arguments.length, 1, 'match', 'Cache');
      const answer = await t.call('match', this.#name, wire(requestOf(request)), null, Boolean(options?.ignoreMethod));
      return Array.isArray(answer) ? t.responseOf(answer) : undefined;
    }

    async put(request: unknown, response: unknown): Promise<undefined> {
      required(arguments.length, 2, 'put', 'Cache');
      const req = requestOf(request);
      const res = response as ResponseLike;
      if (typeof res !== 'object' || res === null || typeof res.arrayBuffer !== 'function') {
        throw new TypeError("Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'");
      }
      if (res.bodyUsed) throw new TypeError("Failed to execute 'put' on 'Cache': the response's body was already used");
      // The limit is asked for once, by the first put: the others go on at their own depth.
      const key = wire(req);
      // Each field read once, and the value read is the value checked and sent (a getter may
      // answer differently each time); the checks call nothing the tenant can replace.
      const status: unknown = res.status;
      const statusText: unknown = res.statusText;
      const headers = t.flatHeaders(res.headers as Req['headers']);
      if (typeof status !== 'number' || (status | 0) !== status || typeof statusText !== 'string') {
        throw new TypeError("Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'");
      }
      const checkedHeaders = checkHeadSize(headers, statusText.length, 'Cache', "the response's URL, status text and headers");
      const body = res.body === null ? null : await readAtMost(res.body, await resumingHere(cacheLimit()));
      await t.call('put', this.#name, key, [status, statusText, checkedHeaders, body], false);
      return undefined;
    }

    async delete(request: unknown, options?: CacheQueryOptions): Promise<boolean> {
      required(arguments.length, 1, 'delete', 'Cache');
      return (await t.call('delete', this.#name, wire(requestOf(request)), null, Boolean(options?.ignoreMethod))) === true;
    }

    get [Symbol.toStringTag]() {
      return 'Cache';
    }
  }

  class CacheStorage {
    #default: Cache | undefined;

    constructor(token?: unknown) {
      if (token !== constructing) throw new TypeError('Illegal constructor');
    }

    /** The function's default cache (Workers' `caches.default`). */
    get default(): Cache {
      return (this.#default ??= new Cache(constructing, ''));
    }

    async open(cacheName: unknown): Promise<Cache> {
      required(arguments.length, 1, 'open', 'CacheStorage');
      // A name of its own: '' is the default cache's, and no name given here reaches it.
      return new Cache(constructing, `:${String(cacheName)}`);
    }

    get [Symbol.toStringTag]() {
      return 'CacheStorage';
    }
  }

  return { Cache, CacheStorage, caches: new CacheStorage(constructing) };
}

/** A body's bytes, or a TypeError as soon as they pass `limit` (its stream then cancelled). */
async function readAtMost(body: unknown, limit: number): Promise<ArrayBuffer> {
  const reader = (body as { getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(reason?: unknown): Promise<void> } }).getReader();
  // Each chunk copied, measured and joined with the getters there were at load (plain-bytes.ts):
  // the joined buffer goes to the host, and a replaced `buffer` getter or iterator had it be the
  // tenant's own array of 64 MB strings.
  const chunks: ArrayBuffer[] = [];
  let count = 0;
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const copy = copyOfView(value, 'Cache.put');
    size += byteLengthOf(copy, 'Cache.put');
    if (size > limit) {
      void reader.cancel();
      throw new TypeError(`Cache.put: the response's body is larger than this function's whole cache (${limit} bytes, its cacheMb)`);
    }
    chunks[count++] = copy;
  }
  return joinBuffers(chunks, count, size);
}
