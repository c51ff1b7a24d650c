// Service bindings: `env.AUTH.fetch(request)` in one function calls another function of the same
// engine, as Workers' service bindings do, in process and without the network: no DNS, no socket,
// no egress policy (the operator named the target in the config). The call is a subrequest of the
// caller (its budget, its pending bound, its abort), and the callee runs under its own limits, so
// what it answers, its error responses too (503 cpu-limit, 404 no-such-function), is what the
// caller gets. Bodies are buffered both ways, as the caller's other subrequests are.
import { ConfigError } from '../errors.ts';
import { EgressError, pairs, readBody, type OutboundFetch, type OutboundRequest, type OutboundResponse, type ResponseBytes } from '../egress/outbound-fetch.ts';

const IDENTIFIER = /^[A-Za-z_$][\w$]{0,63}$/;
const FUNCTION_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** What a service's answer may hold in the caller's host at once, as for a network subrequest. */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** The function's "services": binding name → the function it calls. */
export function checkServices(raw: unknown, taken: (name: string) => boolean, where: string): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where}: "services" must be an object of binding names to function names, like {"AUTH": "auth"}`);
  const services = Object.entries(raw as Record<string, unknown>);
  if (services.length > 64) throw new ConfigError(`${where}: at most 64 service bindings`);
  for (const [binding, target] of services) {
    if (!IDENTIFIER.test(binding)) throw new ConfigError(`${where}: service binding ${JSON.stringify(binding)} must be a JavaScript identifier`);
    if (taken(binding)) throw new ConfigError(`${where}: service binding "${binding}" is also an env variable or the AI binding`);
    if (typeof target !== 'string' || !FUNCTION_NAME.test(target)) throw new ConfigError(`${where}: service binding "${binding}" must name a function (a DNS label), not ${JSON.stringify(target)}`);
  }
  return services.length ? Object.fromEntries(services) as Record<string, string> : undefined;
}

/** Calls function `name` with a request (Engine.fetch: never throws; errors are responses). */
export type CallFunction = (name: string, request: Request) => Promise<Response>;

/**
 * The caller's subrequests: those naming one of its service bindings go to that function, the
 * rest to `network` (its egress policy).
 */
export function withServices(network: OutboundFetch, services: Record<string, string>, call: CallFunction): OutboundFetch {
  const outbound: OutboundFetch = (request, signal, held, service) => {
    if (service === undefined) return network(request, signal, held);
    const target = Object.hasOwn(services, service) ? services[service] : undefined;
    if (target === undefined) return Promise.reject(new EgressError(`fetch: this function has no service binding "${service}"`));
    return callService(target, request, signal, held, call);
  };
  if (network.connectSocket) outbound.connectSocket = network.connectSocket;
  return outbound;
}

async function callService(target: string, request: OutboundRequest, signal: AbortSignal | undefined, held: ResponseBytes | undefined, call: CallFunction): Promise<OutboundResponse> {
  let req: Request;
  try {
    req = new Request(request.url, {
      method: request.method,
      headers: pairs(request.headers),
      body: request.body,
      redirect: request.redirect,
      ...(signal && { signal }),
    });
  } catch (err) {
    throw new EgressError(`fetch: service "${target}": ${(err as Error).message}`);
  }
  const res = await call(target, req);
  // As for a network answer: each Set-Cookie stays apart (Fetch's header iteration).
  const flat: string[] = [];
  res.headers.forEach((value, name) => flat.push(name, value));
  const body = await readBody(res as never, MAX_RESPONSE_BYTES, `service "${target}"`, held);
  return { status: res.status, statusText: res.statusText, headers: flat, body, urls: [request.url] };
}
