// The shape a request and a response have while they cross the sandbox boundary: plain data that
// copies cheaply (strings, flat arrays, one ArrayBuffer), never Node or Web objects.
import { BodyTooLargeError } from './errors.ts';

export interface WireRequest {
  method: string;
  url: string;
  /** Flat [name0, value0, name1, value1, ...], as Node's `rawHeaders`. */
  headers: string[];
  body: ArrayBuffer | null;
}

export interface WireResponse {
  status: number;
  /** Flat [name0, value0, ...] with lower-case names; Set-Cookie entries stay separate. */
  headers: string[];
  /** A string when the tenant built the body from one (written as UTF-8), else bytes. */
  body: string | ArrayBuffer | null;
  /** CPU the sandbox spent on it, in ns, where the tier can tell (for the request log). */
  cpuNs?: number;
}

/** A Web Request as a WireRequest, refusing bodies over `maxBodyBytes`. */
export async function wireFromRequest(request: Request, fn: string, maxBodyBytes: number): Promise<WireRequest> {
  const headers: string[] = [];
  request.headers.forEach((value, key) => headers.push(key, value));
  let body: ArrayBuffer | null = null;
  if (request.body !== null && request.method !== 'GET' && request.method !== 'HEAD') {
    if (Number(request.headers.get('content-length')) > maxBodyBytes) throw new BodyTooLargeError(fn, maxBodyBytes);
    body = await request.arrayBuffer();
    if (body.byteLength > maxBodyBytes) throw new BodyTooLargeError(fn, maxBodyBytes);
  }
  return { method: request.method, url: request.url, headers, body };
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
  let body: string | Uint8Array | null = null;
  if (!NULL_BODY_STATUS.has(wire.status) && wire.body !== null) {
    body = typeof wire.body === 'string' ? wire.body : new Uint8Array(wire.body);
  }
  return new Response(body, { status: wire.status, headers });
}
