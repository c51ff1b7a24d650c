// The only doors from an isolate to the host. The engine hands these functions (isolated-vm
// Callbacks, which copy their arguments) to `init`, and they live on in this module's closure:
// tenant code can call the Web APIs built on them but never reach the functions themselves.

export interface HostCalls {
  /** Forward one console line to the host log. */
  log(level: string, message: string): void;
  /** Fresh random bytes from the host's CSPRNG. */
  randomBytes(length: number): ArrayBuffer;
  /** Arm timer `id` for `delayMs` from `setAt` (the isolate's Date.now() when tenant code set it). */
  setTimer(id: number, delayMs: number, setAt: number): void;
  clearTimer(id: number): void;
  /** Responses that finished after their dispatch batch returned, flat as in dispatch.ts. */
  respond(results: unknown[]): void;
  /** All `ctx.waitUntil` work of request `id` has settled. */
  taskDone(id: number): void;
  /** UTS #46 ToASCII with the URL standard's options; null on failure. */
  domainToASCII(domain: string): string | null;
  /**
   * Start subrequest `id`; the host answers through the runtime's settleFetch. `service` names
   * the service binding it goes through (env.NAME.fetch), or is null for the network; `depth` is
   * how deep the request that makes it is in a chain of such calls (dispatch/chain-depth.ts).
   */
  startFetch(id: number, method: string, url: string, headers: string[], body: ArrayBuffer | null, redirect: string, service: string | null, depth: number): void;
  /** Cancel subrequest `id`. */
  abortFetch(id: number): void;
  /**
   * Hashes `data` (at most 256 KB) with a node:crypto hash name (sha1, sha256, sha384, sha512,
   * md5). Stream 0: the digest of `data`. Any other: feeds that stream's hash, kept on the host,
   * and with `end` returns its digest (else null).
   */
  digest(algorithm: string, data: ArrayBuffer, stream: number, end: boolean): ArrayBuffer | null;
  /** The next chunk of request `id`'s streamed response body: bytes, or null at its end or on `error`. */
  streamChunk(id: number, chunk: ArrayBuffer | null, error: string | null): void;
  /** The tenant reads request `id`'s streamed body: the host answers through settleRequestChunk. */
  pullRequestBody(id: number): void;
  /** The tenant cancelled request `id`'s streamed body. */
  cancelRequestBody(id: number): void;
  /** Start crypto.subtle operation `id`; the host answers through the runtime's settleCrypto. */
  startCrypto(id: number, op: string, args: unknown[]): void;
  /** Start AI call `id` (env.AI.run); the host answers through the runtime's settleAi. */
  aiRun(id: number, model: string, inputs: unknown[], timeoutMs: number | null): void;
  /** Cancel AI call `id`. */
  aiAbort(id: number): void;
  /** The name of the encoding `label` names (a legacy one: see TextDecoder), or null. */
  encodingOf(label: string): string | null;
  /**
   * Legacy decoder `id` over `bytes` (`stream`: more follows, keep its state): [true, text] or
   * [false, why], the latter a TypeError for the tenant (fatal mode's invalid data, say).
   */
  decodeLegacy(id: number, encoding: string, bytes: ArrayBuffer, stream: boolean, fatal: boolean, ignoreBOM: boolean): [boolean, string];
  /**
   * Cache API call `id` ('match', 'put' or 'delete') on the function's cache `cacheName`, for
   * [method, url, flat headers]; `put` sends [status, statusText, flat headers, body]. The host
   * answers through the runtime's settleCache.
   */
  cacheOp(id: number, op: string, cacheName: string, request: [string, string, string[]], response: unknown[] | null, ignoreMethod: boolean): void;
  /** A message for WebSocket `id`'s client (a string as text, an ArrayBuffer as binary); null, or why the host refused it. */
  wsSend(id: number, data: string | ArrayBuffer): string | null;
  /** Closes WebSocket `id` with `code` (1005: none given) and `reason`; null, or why the host refused it. */
  wsClose(id: number, code: number, reason: string): string | null;
  /**
   * Opens an outbound WebSocket as subrequest `id`: the handshake's answer comes through
   * settleFetch, with `socketId` when the server upgraded (the host then knows the socket by it).
   */
  wsConnect(id: number, socketId: number, url: string, headers: string[]): void;
  /** The tenant takes outbound WebSocket `id`'s messages (accept(), or a `new WebSocket` open): the host reads them from now on. */
  wsAccept(id: number): void;
  /**
   * lol-html for HTMLRewriter (runtime-api/html/): the glue's script and the module's bytes.
   * Loading them is not charged to the tenant (up to a bound) until htmlRewriterReady.
   */
  htmlRewriterGlue(): [source: string, module: ArrayBuffer];
  /** lol-html is compiled and warmed: the tenant's CPU is charged again. */
  htmlRewriterReady(): void;
}

let calls: HostCalls | undefined;

export function setHostCalls(c: HostCalls): void {
  if (calls) throw new Error('host calls are set once per isolate');
  calls = c;
}

export function host(): HostCalls {
  if (!calls) throw new Error('islet runtime used before init');
  return calls;
}
