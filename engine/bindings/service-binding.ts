// Service bindings: `env.AUTH.fetch(request)` in one function calls another function of the same
// engine, as Workers' service bindings do, in process and without the network: no DNS, no socket,
// no egress policy (the operator named the target in the config). The call is a subrequest of the
// caller (its budget, its pending bound, its abort), and the callee runs under its own limits, so
// what it answers, its error responses too (503 cpu-limit, 404 no-such-function), is what the
// caller gets. Bodies are buffered both ways, as the caller's other subrequests are, and headers
// and redirects are handled as for the network (hop-by-hop fields dropped, redirects followed).
import { ConfigError } from '../errors.ts';
import { BINDING_NAME, FUNCTION_NAME } from '../names.ts';
import {
  EgressError, nextHop, normalizedMethod, pairs, readBody, without, withoutHopByHop,
  type Hop, type OutboundFetch, type OutboundRequest, type OutboundResponse, type ResponseBytes,
} from '../egress/outbound-fetch.ts';
import type { Lender } from '../wire.ts';

/** What a service's answer may hold in the caller's host at once, as for a network subrequest. */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** The function's "services": binding name → the function it calls. */
export function checkServices(raw: unknown, taken: (name: string) => boolean, where: string): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where}: "services" must be an object of binding names to function names, like {"AUTH": "auth"}`);
  const services = Object.entries(raw as Record<string, unknown>);
  if (services.length > 64) throw new ConfigError(`${where}: at most 64 service bindings`);
  for (const [binding, target] of services) {
    if (!BINDING_NAME.test(binding) || binding === '__proto__') throw new ConfigError(`${where}: service binding ${JSON.stringify(binding)} must be a JavaScript identifier (not __proto__)`);
    if (taken(binding)) throw new ConfigError(`${where}: service binding "${binding}" is also an env variable or the AI binding`);
    if (typeof target !== 'string' || !FUNCTION_NAME.test(target)) throw new ConfigError(`${where}: service binding "${binding}" must name a function (a DNS label), not ${JSON.stringify(target)}`);
  }
  return services.length ? Object.fromEntries(services) as Record<string, string> : undefined;
}

/**
 * Calls function `name` with a request, `depth` service calls deep, `lender` lending it a place,
 * to be over by its caller's `deadline` at the latest (as Engine.fetch: errors are responses).
 */
export type CallFunction = (name: string, request: Request, depth: number, lender?: Lender, deadline?: number) => Promise<Response>;

/**
 * How deep a chain of service-binding calls may go, as Workers bounds it: a function bound to
 * itself, or two bound to each other, fail fast rather than fill the engine until their
 * wall-clock limits. The caller's depth is the deepest request its sandbox is serving.
 */
export const MAX_SERVICE_DEPTH = 32;

/**
 * The caller's subrequests: those naming one of its service bindings go to that function, the
 * rest to `network` (its egress policy).
 */
export function withServices(network: OutboundFetch, services: Record<string, string>, call: CallFunction): OutboundFetch {
  const outbound: OutboundFetch = (request, signal, held, service, depth = 0, lender, deadline) => {
    if (service === undefined) return network(request, signal, held);
    const target = Object.hasOwn(services, service) ? services[service] : undefined;
    if (target === undefined) return Promise.reject(new EgressError(`fetch: this function has no service binding "${service}"`));
    if (depth >= MAX_SERVICE_DEPTH) return Promise.reject(new EgressError(`${service}.fetch: the chain of service-binding calls is already ${MAX_SERVICE_DEPTH} deep`));
    return callService(target, request, signal, held, (name, req) => call(name, req, depth + 1, lender, deadline))
      .catch((err: unknown) => Promise.reject(serviceError(err, service, target)));
  };
  if (network.connectSocket) outbound.connectSocket = network.connectSocket;
  return outbound;
}

async function callService(target: string, request: OutboundRequest, signal: AbortSignal | undefined, held: ResponseBytes | undefined, call: (name: string, request: Request) => Promise<Response>): Promise<OutboundResponse> {
  // As for the network: connection-level fields are the caller's own, the body sets its length,
  // and Host comes from the URL.
  let hop: Hop = { url: request.url, method: normalizedMethod(request.method), headers: without(withoutHopByHop(request.headers), OWN_FRAMING), body: request.body };
  const urls: string[] = [];
  for (;;) {
    urls.push(hop.url);
    const req = new Request(hop.url, { method: hop.method, headers: pairs(withLength(hop)), body: hop.body, ...(signal && { signal }) });
    const res = await call(target, req);
    // A redirect goes to the same function again, at the new URL, as Fetch would follow it.
    const next = nextHop(request.redirect, hop, res.status, res.headers.get('location'), urls.length, request.url);
    if (next) {
      await res.body?.cancel();
      hop = next;
      continue;
    }
    // As for a network answer: each Set-Cookie stays apart (Fetch's header iteration).
    const flat: string[] = [];
    res.headers.forEach((value, name) => flat.push(name, value));
    // Read under the caller's signal: a caller that gave up stops the callee's body, and holds none of it.
    const body = await readBody(res as never, MAX_RESPONSE_BYTES, `service "${target}"`, held, signal);
    return { status: res.status, statusText: res.statusText, headers: flat, body, urls };
  }
}

/**
 * What the caller's TypeError says when a call fails, worded as toEgressError words a network
 * failure: the sandbox shows only "fetch failed" for an error that is not an EgressError (a
 * callee whose body broke midway, or that hit its CPU limit while streaming). Only the message:
 * a stack would show the host's paths.
 */
function serviceError(err: unknown, binding: string, target: string): EgressError {
  if (err instanceof EgressError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new EgressError(`service binding "${binding}" (function "${target}"): ${detail}`);
}

/** Set from the request itself (its URL and body), never from what the caller wrote. */
const OWN_FRAMING = /^(host|content-length)$/i;

/**
 * The hop's headers with the Content-Length its body has, as the callee would get from a client
 * (or undici would send): a Request keeps no such field for its body, so the callee saw none. The
 * body is always buffered here, its length known; a hop with no body carries none.
 */
function withLength(hop: Hop): string[] {
  return hop.body === null ? hop.headers : [...hop.headers, 'content-length', String(hop.body.byteLength)];
}
