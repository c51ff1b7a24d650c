// The shape a request and a response have while they cross the sandbox boundary: plain data that
// copies cheaply (strings, flat arrays, one ArrayBuffer), never Node or Web objects.
import { encodeBody, encodesBody } from './content-encoding.ts';
import { BodyTooLargeError, RequestTimeoutError } from './errors.ts';
import { MAX_BUFFERED_BODY_BYTES } from './limits.ts';
import { joinBytes } from '../runtime-api/web/bytes.ts';

export interface WireRequest {
  method: string;
  url: string;
  /** Flat [name0, value0, name1, value1, ...], as Node's `rawHeaders`. */
  headers: string[];
  /** Bytes read whole, or a stream the sandbox reads as the tenant does (big and chunked bodies). */
  body: ArrayBuffer | ReadableStream<Uint8Array> | null;
  /** Aborts when the client goes away before the answer is complete: request.signal in the sandbox. */
  signal?: AbortSignal;
  /** Set by the host on a service binding's call: how many such calls deep it is (never from a client). */
  depth?: number;
  /** Set with depth: who may lend the call a place (the caller's sandbox; in process only). */
  lender?: Lender;
  /**
   * Set with depth: the latest its callers may still run (performance.now() ms), past which it
   * may not run either, whatever its own wallMs: a chain of calls ends with the request it serves.
   */
  deadline?: number;
}

/**
 * What a sandbox's tasks at one depth lend the service-binding calls they make: a call may run
 * past its function's limits (the scheduler's submit) while fewer calls are lent than those tasks
 * (engine/tiers/sandbox-tasks.ts).
 */
export interface Lender {
  canLend(): boolean;
  take(): void;
  giveBack(): void;
}

export interface WireResponse {
  status: number;
  /** Flat [name0, value0, ...] with lower-case names; Set-Cookie entries stay separate. */
  headers: string[];
  /**
   * A string when the tenant built the body from one (written as UTF-8), else bytes; a stream when
   * the tenant's body was a stream, read from the sandbox as the socket takes it.
   */
  body: string | ArrayBuffer | ReadableStream<Uint8Array> | null;
  /** The tenant's own reason phrase (`new Response(b, { statusText })`); absent for the default. */
  statusText?: string;
  /** The body is already encoded as its Content-Encoding says (Workers' `encodeBody: 'manual'`). */
  encodedByTenant?: boolean;
  /**
   * The body's length where only the tenant could tell it: a streamed body's declared length (a
   * FixedLengthStream), which the sandbox cuts a body that does not keep to
   * (tiers/streamed-body.ts), or, with `bodyOmitted`, the length GET's body would have had. It
   * goes out as the Content-Length.
   */
  bodyLength?: number;
  /** The body was left out (a HEAD answer, headAnswer): its length is `bodyLength`, if known, not 0. */
  bodyOmitted?: boolean;
  /** CPU the sandbox spent on it, in ns, where the tier can tell (for the request log). */
  cpuNs?: number;
  /** A 101 answering a WebSocket upgrade: the tenant's end of the socket (gateway/websocket.ts completes the handshake). */
  webSocket?: TenantSocket;
}

/** The client's end of a WebSocket whose handshake is done, as the gateway holds it. */
export interface ClientSocket {
  /** A string goes as a text message, bytes as a binary one. */
  send(data: string | ArrayBuffer): void;
  /** Closes the connection; code 1005 sends a close frame without a code. */
  close(code: number, reason: string): void;
  /** Stop reading the client's messages (the tenant is behind), and read on. */
  pause(): void;
  resume(): void;
  /** Bytes sent and not yet taken by the connection (the client is behind). */
  readonly buffered: number;
}

/** The tenant's end of a WebSocket its answer accepted, as its sandbox holds it. */
export interface TenantSocket {
  /** The handshake is done: what the tenant sends goes to `client` from now on. */
  open(client: ClientSocket): void;
  /** A message from the client: a string for text, an ArrayBuffer for binary. */
  message(data: string | ArrayBuffer): void;
  /** The connection closed (code 1006: lost without a close frame, or the handshake failed). */
  closed(code: number, reason: string): void;
}

/**
 * A Web Request as a WireRequest, refusing bodies over `maxBodyBytes`: a body that turns out
 * small is read whole (one copy, the fast path), a bigger one streams on, its bytes counted
 * against the limit as they come.
 */
export async function wireFromRequest(request: Request, fn: string, maxBodyBytes: number, bodyWithinMs = Infinity): Promise<WireRequest> {
  const headers = flatHeaders(request.headers);
  let body: WireRequest['body'] = null;
  if (request.body !== null && request.method !== 'GET' && request.method !== 'HEAD') {
    if (Number(request.headers.get('content-length') ?? 0) > maxBodyBytes) throw new BodyTooLargeError(fn, maxBodyBytes);
    // Not by its Content-Length, which a Web Request's stream need not keep to (or have at all).
    body = await wholeOrStreamed(request.body, fn, maxBodyBytes, bodyWithinMs);
  }
  return { method: request.method, url: request.url, headers, body, signal: request.signal };
}

/** A Web Headers object as the flat [name0, value0, …] list the boundary carries. */
export function flatHeaders(headers: Headers): string[] {
  const flat: string[] = [];
  headers.forEach((value, key) => flat.push(key, value));
  return flat;
}

/**
 * Reads `stream` up to MAX_BUFFERED_BODY_BYTES: all of it, if it ended by then, else a stream of
 * what was read and the rest. Either way more than `maxBodyBytes` is a BodyTooLargeError, and a
 * first megabyte that takes longer than `withinMs` to arrive (a client trickling it, while no
 * wall clock runs yet) a RequestTimeoutError.
 */
async function wholeOrStreamed(
  stream: ReadableStream<Uint8Array>, fn: string, maxBodyBytes: number, withinMs: number,
): Promise<ArrayBuffer | ReadableStream<Uint8Array>> {
  const reader = stream.getReader();
  let late: NodeJS.Timeout | undefined;
  // Cancelling the reader ends its pending read as if the body had ended: the flag tells them apart.
  let timedOut = false;
  if (Number.isFinite(withinMs)) {
    late = setTimeout(() => {
      timedOut = true;
      void reader.cancel().catch(() => {});
    }, withinMs);
  }
  try {
    return await readSmall(reader, fn, maxBodyBytes, () => {
      if (timedOut) throw new RequestTimeoutError(fn, withinMs);
    });
  } finally {
    clearTimeout(late);
  }
}

async function readSmall(
  reader: ReadableStreamDefaultReader<Uint8Array>, fn: string, maxBodyBytes: number, checkTime: () => void,
): Promise<ArrayBuffer | ReadableStream<Uint8Array>> {
  const read: Uint8Array[] = [];
  let size = 0;
  const count = (chunk: Uint8Array) => {
    size += chunk.byteLength;
    if (size > maxBodyBytes) {
      void reader.cancel().catch(() => {});
      throw new BodyTooLargeError(fn, maxBodyBytes);
    }
    return chunk;
  };
  while (size <= MAX_BUFFERED_BODY_BYTES) {
    const { done, value } = await reader.read();
    checkTime();
    if (done) return joinBytes(read, size).buffer;
    read.push(count(value));
  }
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of read) controller.enqueue(chunk);
      read.length = 0;
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(count(value));
    },
    cancel: (reason) => reader.cancel(reason),
  });
}


const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

// What HTTP/1.1 can carry (RFC 9110 §5.1, §5.5): a lower-case token as a name (Headers lower-cases
// them), visible ASCII, space, tab and obs-text as a value. Fetch also lets other control
// characters into values, which Node refuses to write once the status line is out.
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/**
 * A reason phrase the gateway writes as the tenant gave it: ASCII only, since Node writes a
 * response's head in its body's encoding, so obs-text would reach the client as UTF-8 or Latin-1
 * depending on the body; otherwise the status code's default phrase goes out.
 */
export const ASCII_REASON = /^[\t\x20-\x7e]*$/;
export const MALFORMED_RESPONSE = 'the runtime produced a malformed response (was it tampered with?)';

/**
 * Why a sandbox's answer cannot go to a socket as it is, or undefined when it can. What comes out
 * of a sandbox is data the tenant could have shaped (by patching built-ins the runtime relies
 * on), so every tier checks it before resolving the request with it.
 */
export function wireResponseProblem(status: unknown, headers: unknown, statusText?: unknown): string | undefined {
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) return MALFORMED_RESPONSE;
  // A reason phrase is HTAB, SP, VCHAR and obs-text (RFC 9112 §4), as a field value.
  if (statusText !== undefined && (typeof statusText !== 'string' || !FIELD_VALUE.test(statusText))) return MALFORMED_RESPONSE;
  if (!Array.isArray(headers) || headers.length % 2 !== 0) return MALFORMED_RESPONSE;
  for (let i = 0; i < headers.length; i += 2) {
    const name: unknown = headers[i];
    const value: unknown = headers[i + 1];
    if (typeof name !== 'string' || typeof value !== 'string' || !FIELD_NAME.test(name)) return MALFORMED_RESPONSE;
    if (!FIELD_VALUE.test(value)) return `the response header "${name}" has a value HTTP cannot carry (a control character other than tab)`;
  }
  return undefined;
}

// The connection's framing and its hop-by-hop headers are the server's, not the function's: a
// tenant's Content-Length or Transfer-Encoding that disagreed with the body would desync the
// connection for the responses after it (response splitting), as would Connection or Upgrade.
// workerd drops them too; Node frames the body itself.
const SERVER_OWNED = new Set(['connection', 'content-length', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * A WireResponse as a Response, without the headers the server owns. Headers go in as a plain
 * object when names are unique: the shape @hono/node-server writes straight to the socket
 * without building a Headers object.
 */
export function responseFromWire(wire: WireResponse): Response {
  const flat = wire.headers;
  let headers: Record<string, string> | Headers = {};
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!;
    if (SERVER_OWNED.has(name)) continue;
    if (name in headers) {
      headers = new Headers();
      for (let j = 0; j < flat.length; j += 2) if (!SERVER_OWNED.has(flat[j]!)) headers.append(flat[j]!, flat[j + 1]!);
      break;
    }
    (headers as Record<string, string>)[name] = flat[i + 1]!;
  }
  let body: string | Uint8Array | ReadableStream<Uint8Array> | null = null;
  if (NULL_BODY_STATUS.has(wire.status)) {
    if (wire.body instanceof ReadableStream) void wire.body.cancel();
    // 205 Reset Content says so with a length of 0 (RFC 9110 §15.3.6), as workerd sends it.
    if (wire.status === 205) setHeader(headers, 'content-length', '0');
  } else if (wire.body === null) {
    // No body is an empty one of known length: "content-length: 0", not a chunked nothing. A
    // HEAD answer's left-out body says GET's length instead, when it is known.
    if (!wire.bodyOmitted) setHeader(headers, 'content-length', '0');
    else if (wire.bodyLength !== undefined) setHeader(headers, 'content-length', String(wire.bodyLength));
  } else {
    body = wire.body instanceof ArrayBuffer ? new Uint8Array(wire.body) : wire.body;
    // Node writes a response's head in its first body chunk's encoding when that chunk is a
    // string (UTF-8), and in Latin-1 otherwise: header values are bytes, one a character, so with
    // any past ASCII the body goes as bytes, or they would reach the client encoded twice.
    if (typeof body === 'string' && hasNonAsciiValue(flat)) body = Buffer.from(body, 'utf8');
    const coding = encodingOnTheWay(wire);
    if (coding !== undefined) body = encodeBody(body, coding);
    else if (wire.bodyLength !== undefined && body instanceof ReadableStream) {
      // Node frames other bodies itself; a stream's length only the tenant could tell.
      setHeader(headers, 'content-length', String(wire.bodyLength));
    }
  }
  const response = new Response(body, { status: wire.status, statusText: wire.statusText, headers });
  if (body !== null && headers instanceof Headers && !headers.has('content-type')) untyped.add(response);
  return response;
}

/** Responses of responseFromWire's with a body, no Content-Type and their headers as a Headers. */
const untyped = new WeakSet<Response>();

/**
 * Whether @hono/node-server will send `response`, made by responseFromWire, with a Content-Type
 * the function never set: it gives one ("text/plain; charset=UTF-8") to every response with a body
 * and none, unless its headers are a plain record — and responseFromWire makes them a Headers when
 * a name repeats (two Set-Cookies), so a proxied image with two cookies went out typed as text.
 * workerd adds none.
 */
export function getsInventedType(response: Response): boolean {
  return untyped.has(response);
}

/** The Content-Type @hono/node-server gives a response with a body and none (see getsInventedType). */
export const INVENTED_TYPE = 'text/plain; charset=UTF-8';

/** A character past ASCII: a header value with one is bytes that differ between Latin-1 and UTF-8. */
export const NON_ASCII = /[^\x00-\x7f]/;

function hasNonAsciiValue(flat: string[]): boolean {
  for (let i = 1; i < flat.length; i += 2) if (NON_ASCII.test(flat[i]!)) return true;
  return false;
}

function setHeader(headers: Record<string, string> | Headers, name: string, value: string): void {
  if (headers instanceof Headers) headers.set(name, value);
  else headers[name] = value;
}

/** The Content-Encoding responseFromWire encodes `wire`'s body with on its way out, if any. */
function encodingOnTheWay(wire: WireResponse): string | undefined {
  if (wire.encodedByTenant) return undefined;
  for (let i = 0; i < wire.headers.length; i += 2) {
    if (wire.headers[i] === 'content-encoding') return encodesBody(wire.headers[i + 1]!) ? wire.headers[i + 1] : undefined;
  }
  return undefined;
}

/**
 * Makes `answer` the answer to a HEAD request: it loses its body (a streamed one is cancelled, not
 * left producing until its limit), and keeps as `bodyLength` the length GET's body would have had,
 * for the Content-Length (RFC 9110 §9.3.2), when it is known: for a stream only when it declared
 * its length, never for a body that would be encoded on its way out.
 */
export function headAnswer(answer: WireResponse): void {
  const body = answer.body;
  answer.body = null;
  if (body instanceof ReadableStream) void body.cancel().catch(() => {});
  // The function's own Content-Length says it best, as workerd takes it: a proxy answering HEAD
  // with its origin's HEAD answer has no body to count, and went out with "content-length: 0".
  const declared = encodingOnTheWay(answer) === undefined ? declaredLength(answer.headers) : undefined;
  if (declared !== undefined) {
    answer.bodyOmitted = true;
    answer.bodyLength = declared;
    return;
  }
  answer.bodyOmitted = body !== null;
  if (body === null || encodingOnTheWay(answer) !== undefined) answer.bodyLength = undefined;
  else if (!(body instanceof ReadableStream)) answer.bodyLength = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
}

/** A response's own Content-Length, when it is one (a decimal number); undefined otherwise. */
function declaredLength(flat: string[]): number | undefined {
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] === 'content-length') return /^\d{1,15}$/.test(flat[i + 1]!) ? Number(flat[i + 1]) : undefined;
  }
  return undefined;
}

/**
 * How the isolate's runtime sends a reason phrase of the tenant's own and `encodeBody: 'manual'`:
 * leading header pairs with these names, which no real header can have
 * (runtime-api/fetch/response.ts). Only when there are, so the usual answer carries nothing more.
 */
const STATUS_TEXT_FIELD = ':status-text';
const ENCODE_BODY_FIELD = ':encode-body';

/** Takes the runtime's leading fields out of its flat header list: [statusText, encodeBodyManual, headers]. */
export function splitPseudoFields(headers: unknown): [string | undefined, boolean, unknown] {
  if (!Array.isArray(headers) || typeof headers[0] !== 'string' || headers[0][0] !== ':') return [undefined, false, headers];
  let statusText: string | undefined;
  let i = 0;
  if (headers[i] === STATUS_TEXT_FIELD) {
    statusText = headers[i + 1] as string;
    i += 2;
  }
  const manual = headers[i] === ENCODE_BODY_FIELD;
  if (manual) i += 2;
  return [statusText, manual, headers.slice(i)];
}
