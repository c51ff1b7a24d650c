// HTTP methods as Workers write them. Fetch upper-cases only its six (DELETE, GET, HEAD, OPTIONS,
// POST, PUT), so `new Request(url, { method: 'patch' }).method` would stay "patch"; workerd
// upper-cases every method it knows (its `upper_case_all_http_methods` behaviour, the default for
// current compatibility dates), and code written for it compares `request.method === 'PATCH'` or
// sends `purge` to servers that take only PURGE. Shared by the runtime (Request) and the host's
// egress (what goes on the wire), so both agree.

/** The methods workerd knows (kj's HttpMethod), upper-cased. */
const KNOWN_METHODS = new Set([
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'PURGE', 'OPTIONS', 'TRACE', 'COPY', 'LOCK',
  'MKCOL', 'MOVE', 'PROPFIND', 'PROPPATCH', 'SEARCH', 'UNLOCK', 'ACL', 'REPORT', 'MKACTIVITY',
  'CHECKOUT', 'MERGE', 'M-SEARCH', 'NOTIFY', 'SUBSCRIBE', 'UNSUBSCRIBE', 'QUERY', 'BAN',
]);

/** `method` upper-cased if it is one workerd knows, else as written (Fetch keeps other tokens). */
export function normalizedMethod(method: string): string {
  const upper = method.toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : method;
}
