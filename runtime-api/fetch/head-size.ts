// The bound on what a message's head may carry across to the host, checked before the copy. It
// imports only plain-bytes.ts (which imports nothing), so the isolate's runtime (fetch, responses,
// WebSockets) and the Cache API of both runtimes (host/cache-api.ts, also bundled into the process
// sandboxes' runtime) share it.

/**
 * The most characters a message's head may carry across to the host: names, values and the URL
 * together, as Cloudflare bounds request and response headers (128 KB). The count is made before
 * the copy, with nothing a tenant can patch (string lengths, an index loop): a response with a
 * 20 MB header value held the host's event loop ~0.3 s a request, and unawaited fetch() calls with
 * 1 MB headers piled 280 MB up on the host before it could refuse any.
 */
export const MAX_HEAD_CHARS = 128 * 1024;

import { plainArray } from '../web/plain-bytes.ts';

// Captured at load, before any tenant code runs in this realm.
const isArray = Array.isArray;

/**
 * `flat` as a fresh array of its strings (so that only they cross: an array can carry named
 * properties too), or a TypeError from `where` when it holds anything else or when, with `chars`
 * more (a URL, a method, a status text), it passes MAX_HEAD_CHARS; `what` names those parts in
 * the message.
 */
export function checkHeadSize(flat: unknown, chars: number, where: string, what = 'its URL and headers', prefix?: string[]): string[] {
  if (!isArray(flat)) throw new TypeError(`${where}: the headers are not a header list`);
  // With no prototype, so that no setter a tenant put on Array.prototype (for an index) runs as
  // it is filled, nor a `then` or an iterator of theirs applies to it: a setter hung 64 MB strings
  // on the copy as a named property, for the host to copy too. Only indexes and length are used.
  const copy = plainArray<string>();
  let n = 0;
  // The runtime's own leading fields (a response's status text), counted with the rest.
  if (prefix !== undefined) {
    for (let i = 0; i < prefix.length; i++) {
      copy[n++] = prefix[i]!;
      chars += prefix[i]!.length;
    }
  }
  for (let i = 0; i < flat.length; i++) {
    const item: unknown = flat[i];
    if (typeof item !== 'string') throw new TypeError(`${where}: the headers are not a header list`);
    copy[n++] = item;
    chars += item.length;
  }
  if (chars > MAX_HEAD_CHARS) throw new TypeError(`${where}: ${what} total ${chars} characters, more than ${MAX_HEAD_CHARS}`);
  return copy;
}
