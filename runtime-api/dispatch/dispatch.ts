// Handler dispatch: requests arrive from the host in batches (every request that reached the
// gateway in one event-loop turn), run concurrently, and go back as flat records.
//
// Why batches: each host→isolate call is a hop between threads, which costs more than a hello
// handler itself. One call per batch, and one answer for every response that is ready before the
// batch's microtasks run dry, makes the hop cost per batch instead of per request.
import { ENV_KEY } from '../bindings/env-key.ts';
import { Fetcher } from '../bindings/service.ts';
import { Ai, isolateAi, type AiLimits } from '../bindings/ai.ts';
import { host } from '../host/host-calls.ts';
import { DOMException, Event, Response, requestFromWire, responseHasStreamBody, responseToWire, responseToWireStream, responseWebSocket } from '../web/index.ts';
import { handOverSocket } from '../host/websocket.ts';
import { startPerformanceClock } from '../host/performance.ts';
import { clientSignal, requestEnded, requestStarted } from './client-signal.ts';
import { enterChain, UNKNOWN_DEPTH } from './chain-depth.ts';
import { describe, describeThrown } from './describe.ts';
import { ExecutionContext, settleWaitUntil, waitUntilSettled } from './execution-context.ts';
import { plainArray } from '../web/plain-bytes.ts';
import { requestBodyStream } from './request-stream.ts';
import { nullProto } from '../webidl/null-prototype.ts';
import { openResponseStream } from './response-stream.ts';
import { globalScope } from './global-scope.ts';
import { defineServiceWorker, exposeBindings, takeBackBindings, tenantHandler } from './service-worker.ts';

/** addEventListener('fetch', …) and its events, for scripts in Workers' service-worker syntax. */
export const serviceWorker = defineServiceWorker(Event as unknown as typeof globalThis.Event, DOMException as unknown as typeof globalThis.DOMException, globalScope);

interface ExportedHandler {
  fetch?(request: unknown, env: unknown, ctx: ExecutionContext): unknown;
  scheduled?(controller: ScheduledController, env: unknown, ctx: ExecutionContext): unknown;
}

let handler: ExportedHandler | undefined;
let env: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;
// The object env becomes, there from before the tenant's code runs: cloudflare:workers' `env` is
// it, read at the module's first line (its variables are in it by then when the function has any).
const sharedEnv: Record<string, unknown> = {};
Object.defineProperty(globalThis, ENV_KEY, nullProto({ value: sharedEnv, writable: false, configurable: true, enumerable: false }));

/** Record layout of a request in a batch: [id, method, url, flatHeaders, body]; body true: it streams (request-stream.ts). */
const REQUEST_FIELDS = 5;
/**
 * Record layout of a result: [id, kind, a, b, c, waitUntilPending].
 * kind 0: a = status, b = flat headers, c = body.  kind 1 (exception): a = name, b = message, c = stack.
 * kind 2: as 0 with c = the body's length when it declared one (a FixedLengthStream), else null, and
 * the body follows as a stream the host pulls (response-stream.ts).
 * kind 3 (an upgrade answered with a WebSocketPair end): a = 101, b = flat headers, c = the
 * socket's id (websocket.ts), the host completing the handshake.
 */
export const RESULT_OK = 0;
export const RESULT_EXCEPTION = 1;
export const RESULT_STREAM = 2;
export const RESULT_WEBSOCKET = 3;

/**
 * How many microtask turns a batch waits for its handlers before answering. Handlers that finish
 * without real I/O (most) need a few turns per `await`; the rest answer later through host.respond.
 */
const BATCH_MICROTASK_TURNS = 64;

/**
 * Binds the tenant's module; `aiBinding` names the env entry that gets env.AI, if it has one,
 * held to `aiLimits`, and each of `services` an env entry whose fetch() calls the function bound.
 */
export function setTenant(
  namespace: Record<string, unknown>,
  tenantEnv: Record<string, unknown>,
  aiBinding: string | null = null,
  aiLimits: AiLimits | null = null,
  services: string[] | null = null,
): void {
  // Loaded now: performance.now() counts from here (or from the top level's first reading).
  startPerformanceClock();
  const chosen = tenantHandler<ExportedHandler>(namespace.default, serviceWorker);
  handler = chosen.handler;
  const made: Record<string, unknown> = {};
  if (aiBinding !== null && aiLimits !== null) made[aiBinding] = new Ai(aiLimits, isolateAi);
  for (const binding of services ?? []) made[binding] = new Fetcher(binding);
  // Not frozen: workerd lets code add to env (a memo, a computed setting), and it is the tenant's own.
  env = Object.assign(sharedEnv, tenantEnv, made);
  // A service-worker script reads its bindings as globals: the ones exposed before it ran, and
  // those made here. A module's are its env argument only.
  if (!chosen.listening) takeBackBindings(exposed);
  else if (Object.keys(made).length) exposeBindings(made);
  exposed = [];
}

/** The bindings exposeEnv put on the global object, until setTenant knows the script's syntax. */
let exposed: string[] = [];

/** The function's bindings as globals before its script runs (service-worker.ts, exposeBindings). */
export function exposeEnv(bindings: Record<string, unknown>): void {
  Object.assign(sharedEnv, bindings);
  exposed.push(...exposeBindings(bindings));
}

/**
 * Answers of batches the host has not confirmed yet, by batch number. isolated-vm fails a call
 * whose task ends with a promise rejection nobody handled (a tenant's floating `Promise.reject()`
 * or unawaited failing `fetch()`) and drops what the call returned: the host then takes the
 * batch's answers back from here (answersOf) instead of failing every request in it. Each batch
 * says which batches the host has settled, and their answers are let go.
 */
// A null-prototype object, not a Map: a tenant's replaced Map.prototype.get answered answersOf with
// its own array of 64 MB strings, which the host copied (528 MB from one request).
let unconfirmed: Record<number, unknown[]> = Object.create(null) as Record<number, unknown[]>;

/** Runs a batch of requests, all `depth` service-binding calls deep (the host batches them so). */
export async function dispatchBatch(batch: unknown[], seq: number, settledUpTo: number, depth = 0): Promise<unknown[]> {
  enterChain(depth);
  // Integer keys enumerate in ascending order.
  for (const key in unconfirmed) {
    const done = +key;
    if (done > settledUpTo) break;
    delete unconfirmed[done];
  }
  // No prototype: an index setter of the tenant's on Array.prototype would run as it is filled
  // (and hang 64 MB strings on it), and a `then` would make it a thenable as dispatchBatch returns it.
  const ready = plainArray<unknown>();
  unconfirmed[seq] = ready;
  let pending = 0;
  let open = true;
  for (let i = 0; i < batch.length; i += REQUEST_FIELDS) {
    pending++;
    runRequest(batch[i] as number, batch[i + 1] as string, batch[i + 2] as string, batch[i + 3] as string[], batch[i + 4] as ArrayBuffer | true | null).then((record) => {
      pending--;
      if (open) {
        // An index loop: spreading would go through the tenant's Array iterator.
        for (let j = 0; j < record.length; j++) ready[ready.length] = record[j];
        return;
      }
      try {
        host().respond(record);
      } catch {
        // A record that cannot be copied (something the tenant made uncopyable got in): answer
        // the request with an error rather than leave it to its wall-clock limit.
        host().respond([record[0], RESULT_EXCEPTION, 'TypeError', 'the answer could not be sent to the host', '', record[5] === true]);
      }
    });
  }
  for (let turn = 0; pending > 0 && turn < BATCH_MICROTASK_TURNS; turn++) await undefined;
  open = false;
  return ready;
}

/** Lets every kept answer go: the host's idle collection runs only with nothing in flight. */
export function forgetAnswers(): void {
  unconfirmed = Object.create(null) as Record<number, unknown[]>;
}

/** What batch `seq` answered before its call failed (undefined: it is not known here). */
export function answersOf(seq: number): unknown[] | undefined {
  const ready = unconfirmed[seq];
  delete unconfirmed[seq];
  return ready;
}

async function runRequest(id: number, method: string, url: string, headers: string[], body: ArrayBuffer | true | null): Promise<unknown[]> {
  const ctx = new ExecutionContext();
  requestStarted(id);
  try {
    const request = requestFromWire(method, url, headers, body === true ? requestBodyStream(id) : body, () => clientSignal(id));
    if (typeof handler!.fetch !== 'function') throw new TypeError('this function has no fetch handler (it exports only scheduled)');
    const response = await handler!.fetch(request, env, ctx);
    if (!(response instanceof Response)) {
      throw new TypeError(`the fetch handler must return a Response (or a Promise of one), got ${describe(response)}`);
    }
    if (response.type === 'error') throw new TypeError('the fetch handler returned Response.error(), which cannot be sent');
    // What goes back to the host is read by index and returned as a record without a prototype:
    // destructuring and spreading go through the tenant's Array iterator (which swapped in headers
    // past the head check, and 64 MB strings for the host to copy), and an array returned from an
    // async function is a thenable once the tenant defines Array.prototype.then.
    const webSocket = responseWebSocket(response);
    if (webSocket !== null) {
      const socketId = handOverSocket(webSocket);
      const wire = responseToWire(response);
      requestEnded(id);
      return plainRecord(id, RESULT_WEBSOCKET, wire[0], wire[1], socketId, settleWaitUntil(ctx, id));
    }
    if (responseHasStreamBody(response)) {
      const wire = responseToWireStream(response);
      const reader = wire[2];
      // Its request ends with the stream (response-stream.ts).
      openResponseStream(id, reader);
      return plainRecord(id, RESULT_STREAM, wire[0], wire[1], reader.length, settleWaitUntil(ctx, id));
    }
    const wire = responseToWire(response);
    requestEnded(id);
    return plainRecord(id, RESULT_OK, wire[0], wire[1], wire[2], settleWaitUntil(ctx, id));
  } catch (err) {
    requestEnded(id);
    const thrown = describeThrown(err);
    return plainRecord(id, RESULT_EXCEPTION, thrown[0], thrown[1], thrown[2], settleWaitUntil(ctx, id));
  }
}

/** A request's answer record for the host: an array with no prototype (see runRequest). */
function plainRecord(a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown): unknown[] {
  return plainArray([a, b, c, d, e, f]);
}

/**
 * Runs one request through the dispatch path with a throwaway handler: while the V8 snapshot is
 * made, so that it holds the path's compiled code, and in each template isolate before a tenant
 * is loaded, so that its context's inline caches are filled too. It calls nothing on the host:
 * the handler is synchronous and uses no waitUntil, and its batch number (0) is let go by the
 * first real batch.
 */
export function warmDispatch(): void {
  const saved = handler;
  handler = { fetch: (request) => new Response('warm', { headers: { 'x-host': String((request as Request).headers.get('host')) } }) };
  try {
    void dispatchBatch([0, 'GET', 'http://warm.example/a?b=c', ['host', 'warm.example', 'accept', '*/*'], null], 0, 0);
  } finally {
    handler = saved;
    // Not depth 0 for the tenant's top level, which runs next, outside any call that sets one.
    enterChain(UNKNOWN_DEPTH);
  }
}

/** The `controller` argument of a scheduled handler (Workers' ScheduledController). */
export class ScheduledController {
  readonly cron: string;
  readonly scheduledTime: number;
  constructor(cron: string, scheduledTime: number) {
    this.cron = cron;
    this.scheduledTime = scheduledTime;
  }

  /** Workers would not retry a failed run; islet never retries, so there is nothing to turn off. */
  noRetry(): void {}

  get [Symbol.toStringTag]() {
    return 'ScheduledController';
  }
}

/**
 * Runs the scheduled handler for `cron`, waiting for its ctx.waitUntil work as Workers does.
 * Resolves to [] on success, or [name, message, stack] when it threw.
 */
export async function runScheduled(cron: string, scheduledTime: number): Promise<string[]> {
  // A scheduled run is a chain's start, as a client's request is.
  enterChain(0);
  const ctx = new ExecutionContext();
  try {
    if (typeof handler?.scheduled !== 'function') throw new TypeError('this function has no scheduled handler');
    await handler.scheduled(new ScheduledController(cron, scheduledTime), env, ctx);
    const failed = await waitUntilSettled(ctx);
    if (failed) throw failed.reason;
    return plainArray<string>();
  } catch (err) {
    // Cut, and read with the built-ins there were at load, as a request's exception is: a cron
    // run's 512 MB message (or a replaced String's answer) was copied whole to the host.
    return describeThrown(err);
  }
}
