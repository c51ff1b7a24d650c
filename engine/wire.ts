// The shape a request and a response have while they cross the sandbox boundary: plain data that
// copies cheaply (strings, flat arrays, one ArrayBuffer), never Node or Web objects.
import { BodyTooLargeError } from './errors.ts';
import { MAX_BUFFERED_BODY_BYTES } from './limits.ts';

export interface WireRequest {
  method: string;
  url: string;
  /** Flat [name0, value0, name1, value1, ...], as Node's `rawHeaders`. */
  headers: string[];
  /** Bytes read whole, or a stream the sandbox reads as the tenant does (big and chunked bodies). */
  body: ArrayBuffer | ReadableStream<Uint8Array> | null;
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
  /** CPU the sandbox spent on it, in ns, where the tier can tell (for the request log). */
  cpuNs?: number;
}

/**
 * A Web Request as a WireRequest, refusing bodies over `maxBodyBytes`: a small declared body is
 * read whole, any other streams through with its bytes counted against the limit.
 */
export async function wireFromRequest(request: Request, fn: string, maxBodyBytes: number): Promise<WireRequest> {
  const headers: string[] = [];
  request.headers.forEach((value, key) => headers.push(key, value));
  let body: WireRequest['body'] = null;
  if (request.body !== null && request.method !== 'GET' && request.method !== 'HEAD') {
    const declared = Number(request.headers.get('content-length'));
    if (declared > maxBodyBytes) throw new BodyTooLargeError(fn, maxBodyBytes);
    if (declared <= MAX_BUFFERED_BODY_BYTES) {
      body = await request.arrayBuffer();
      if (body.byteLength > maxBodyBytes) throw new BodyTooLargeError(fn, maxBodyBytes);
    } else {
      body = request.body.pipeThrough(byteLimit(fn, maxBodyBytes));
    }
  }
  return { method: request.method, url: request.url, headers, body };
}

/**
 * A request body read whole, for sandboxes that take bytes only (the process-based tiers): a
 * streamed body is collected here, failing as its stream fails (past maxBodyBytes, say).
 */
export async function bufferedBody(body: WireRequest['body']): Promise<ArrayBuffer | null> {
  if (!(body instanceof ReadableStream)) return body;
  return new Response(body).arrayBuffer();
}

/** Passes bytes through until more than `maxBodyBytes` went by, then fails the stream. */
function byteLimit(fn: string, maxBodyBytes: number): TransformStream<Uint8Array, Uint8Array> {
  let size = 0;
  return new TransformStream({
    transform(chunk, controller) {
      size += chunk.byteLength;
      if (size > maxBodyBytes) controller.error(new BodyTooLargeError(fn, maxBodyBytes));
      else controller.enqueue(chunk);
    },
  });
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/**
 * A WireResponse as a Response. Headers go in as a plain object when names are unique: the shape
 * @hono/node-server writes straight to the socket without building a Headers object.
 */
export function responseFromWire(wire: WireResponse): Response {
  const flat = wire.headers;
  let headers: Record<string, string> | Headers = {};
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!;
    if (name in headers) {
      headers = new Headers();
      for (let j = 0; j < flat.length; j += 2) headers.append(flat[j]!, flat[j + 1]!);
      break;
    }
    (headers as Record<string, string>)[name] = flat[i + 1]!;
  }
  let body: string | Uint8Array | ReadableStream<Uint8Array> | null = null;
  if (NULL_BODY_STATUS.has(wire.status)) {
    if (wire.body instanceof ReadableStream) void wire.body.cancel();
  } else if (wire.body !== null) {
    body = wire.body instanceof ArrayBuffer ? new Uint8Array(wire.body) : wire.body;
  }
  return new Response(body, { status: wire.status, headers });
}
