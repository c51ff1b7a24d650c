// The runtime inside a process, container or VM sandbox: a plain Node 24 process that loads one
// tenant module and serves the Workers handler contract with Node's own Web APIs (Request,
// Response, Headers, URL, streams, crypto). It speaks the framed protocol on the descriptor
// named by ISLET_CHANNEL_FD (3, a socket pair to the host, or in a VM a virtio serial port), or
// on stdin and stdout when that is "stdio" (inside container runtimes). The tenant's fetch()
// goes to the host, which runs it under the function's egress policy.
import { createHash } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import { createReadStream, createWriteStream, fstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { Server, Socket } from 'node:net';
import dgram from 'node:dgram';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { ReadableStreamReadResult } from 'node:stream/web';
import { pathToFileURL } from 'node:url';
import { formatWithOptions, inspect, type InspectOptionsStylized } from 'node:util';
import { scheduler } from 'node:timers/promises';
// Bundled into the runtime file with it: the isolate runtime's wording for what was thrown.
import { Ai, AIError, outputsOf, type AiLimits, type AiTransport, type WireTensor } from '../../../runtime-api/bindings/ai-core.ts';
import { cut, describe } from '../../../runtime-api/dispatch/describe.ts';
import { defineIdentityStreams } from '../../../runtime-api/web/identity-streams.ts';
import { defineServiceWorker, exposeBindings, takeBackBindings, tenantHandler } from '../../../runtime-api/dispatch/service-worker.ts';
import { nodeDigestName } from '../../../runtime-api/host/digest-names.ts';
import { defineDigestStream } from '../../../runtime-api/host/digest-stream.ts';
import { defineCacheApi, type CachedAnswer } from '../../../runtime-api/host/cache-api.ts';
import { WORKERS_USER_AGENT } from '../../../runtime-api/web/navigator.ts';
import { ENV_KEY } from '../../../runtime-api/bindings/env-key.ts';
import { asksForWebSocket, defineWebSockets, SOCKET_MESSAGE, type WebSocketDeps } from '../../../runtime-api/host/websocket-api.ts';
import { defineHTMLRewriter } from '../../../runtime-api/html/html-rewriter.ts';
import { lolHtmlLoader, type Glue } from '../../../runtime-api/html/lol-html.ts';
import { encodeFrame, encodeStrings, FrameReader, MAX_SANDBOX_HEAD_BYTES, type Frame, type FrameHead } from './protocol.ts';

interface ExportedHandler {
  fetch?(request: Request, env: unknown, ctx: unknown): unknown;
  scheduled?(controller: unknown, env: unknown, ctx: unknown): unknown;
}

// Frames from the host are requests and subrequest answers; bodies are bounded by the host.
const MAX_FRAME_BYTES = 2 ** 31 - 1;
const channel = process.env.ISLET_CHANNEL_FD ?? '3';
const [inFd, outFd] = channel === 'stdio' ? [0, 1] : [Number(channel), Number(channel)];
// A character device (a VM's virtio serial port) is no socket: it is read and written as a file.
const device = fstatSync(inFd).isCharacterDevice();
const input: Readable = device ? createReadStream('', { fd: inFd, highWaterMark: 256 * 1024 }) : new Socket({ fd: inFd, readable: true, writable: inFd === outFd });
const output: Writable = device ? createWriteStream('', { fd: outFd }) : inFd === outFd ? (input as Socket) : new Socket({ fd: outFd, readable: false, writable: true });
// Node's process.stdin opens a stream of its own on fd 0 when first read, and libuv refuses a
// descriptor the loop already holds ("open EEXIST"): where fd 0 is the channel, a tenant's
// `import process from 'node:process'` (whose namespace reads every property of process) failed to
// load. There stdin is what the process tier's /dev/null gives: an empty stream, never the frames.
if (inFd === 0) {
  let stdin: Readable | undefined;
  Object.defineProperty(process, 'stdin', { get: () => (stdin ??= Readable.from([])), configurable: true, enumerable: true });
}
const reader = new FrameReader(MAX_FRAME_BYTES);
const subrequests = new Map<number, { resolve(frame: Frame): void; reject(err: unknown): void }>();
// Node's own, taken before tenant code runs (it may replace the globals).
const NodeURL = URL;
const NodeEvent = Event;
/** A frame's body as an ArrayBuffer of its own (frames are copies of their own: protocol.ts). */
function arrayBufferOf(body: Uint8Array | null): ArrayBuffer {
  if (!body) return new ArrayBuffer(0);
  return body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body.buffer as ArrayBuffer : body.slice().buffer;
}

/** Responses answering an upgrade, with the WebSocketPair end each gives the client. */
const responseSockets = new WeakMap<Response, unknown>();
/** Thrown past runRequest's answer when the answer went out already (a WebSocket's 101). */
const SENT = Symbol('sent');
let nextSubrequest = 1;
let handler: ExportedHandler | undefined;
let env: Record<string, unknown> = {};
let moduleUrl = '';
let shownUrl = '';

function send(head: FrameHead, body?: Uint8Array | null): void {
  const frame = encodeFrame(head, body);
  // The host refuses a bigger head and ends the sandbox: this says why, where it can be caught
  // (a response's or a subrequest's headers past it fail that call).
  const headBytes = frame.readUInt32BE(4);
  if (headBytes > MAX_SANDBOX_HEAD_BYTES) throw new TypeError(`${headBytes} bytes of headers and names in one message to the host, past its ${MAX_SANDBOX_HEAD_BYTES}`);
  output.write(frame);
}

/** The host keeps 16 KB of a log line (CONSOLE_LINE_CHARS) and says how much it cut; a little more goes, as from isolates. */
const MAX_LINE = 16 * 1024 + 64;
/** The host keeps 16 KB of a thrown value's name, message and stack each (THROWN_TEXT_CHARS). */
const MAX_THROWN_CHARS = 16 * 1024 + 64;

function sendLog(level: string, message: string): void {
  send({ t: 'log', level, message: cut(message, MAX_LINE) });
}

/** Stack traces name the module as the isolate tier does, so the host's source map applies. */
function stackOf(err: unknown): string {
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : '';
  // The runtime's own frames and Node's (`at Socket.emit (node:events:…)`) mean nothing to the tenant.
  const ours = (line: string) => line.includes(import.meta.url) || /\(node:|at (?:async )?node:/.test(line);
  return stack.split('\n').filter((line) => !ours(line)).join('\n').replaceAll(moduleUrl, shownUrl);
}

/** What was thrown, as the isolate tier describes it (runtime-api/dispatch/dispatch.ts). */
function errorFields(err: unknown): { name: string; message: string; stack: string } {
  // Reading what was thrown may throw again (a null-prototype object, a getter that throws): that
  // must still answer the request, not leave it waiting for the wall-clock limit.
  try {
    if (err instanceof Error) return { name: cut(String(err.name), MAX_THROWN_CHARS), message: cut(String(err.message), MAX_THROWN_CHARS), stack: cut(stackOf(err), MAX_THROWN_CHARS) };
    return { name: 'Error', message: cut(`Uncaught ${describe(err)}`, MAX_THROWN_CHARS), stack: '' };
  } catch {
    return { name: 'Error', message: 'Uncaught exception (reading what was thrown threw again)', stack: '' };
  }
}

/**
 * A log line for an error nobody handled, as the isolate tier writes it: "Uncaught …" for a
 * waitUntil promise that rejected, "Uncaught (in promise) …" for a rejection left floating.
 */
function uncaught(err: unknown, floating: boolean): string {
  const { name, message, stack } = errorFields(err);
  return `Uncaught ${floating ? '(in promise) ' : ''}${stack || (message.startsWith('Uncaught ') ? message.slice(9) : `${name}: ${message}`)}`;
}

/** The handler's ctx, shaped as the isolate tier's (runtime-api/dispatch/execution-context.ts). */
class ExecutionContext {
  readonly #promises: Promise<unknown>[] = [];
  /** Workers' ctx.props: what a service binding's caller passes; islet's bindings pass none. */
  readonly props: Record<string, unknown> = {};
  waitUntil(promise: unknown): void {
    this.#promises.push(Promise.resolve(promise));
  }
  passThroughOnException(): void {}
  /** The waitUntil work so far (the runtime's, not the tenant's: not a property). */
  static promisesOf(ctx: ExecutionContext): Promise<unknown>[] {
    return ctx.#promises;
  }
  get [Symbol.toStringTag]() {
    return 'ExecutionContext';
  }
}

/**
 * An Error as console prints it: stackOf's stack (what inspect would show, minus host paths), then
 * what it carries besides (its own properties, `[cause]`), as Node and the isolate tier show them.
 */
function errorText(err: Error, depth: number, options: InspectOptionsStylized, show: typeof inspect): string {
  const stack = stackOf(err) || String(err);
  if (depth < 0) return stack;
  const nested = { ...options, depth: options.depth === null ? null : (options.depth ?? 2) - 1 };
  const own = Object.keys(err).filter((key) => key !== 'stack' && key !== 'message');
  const extras: string[] = [];
  const add = (label: string, read: () => unknown) => {
    try {
      extras.push(`${label}: ${show(read(), nested)}`);
    } catch {
      extras.push(`${label}: [Getter threw]`);
    }
  };
  for (const key of own) add(/^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key), () => (err as unknown as Record<string, unknown>)[key]);
  if (Object.hasOwn(err, 'cause') && !own.includes('cause')) add('[cause]', () => err.cause);
  return extras.length ? `${stack} { ${extras.join(', ')} }` : stack;
}

/** An Error as console prints it (errorText). */
function shownError(err: Error): { [inspect.custom](depth: number, options: InspectOptionsStylized, show: typeof inspect): string } {
  return { [inspect.custom]: (depth, options, show) => errorText(err, depth, options, show) };
}

/**
 * Runs `format` with every Error printed as shownError prints one, those inside objects too
 * (`console.log({ err })`): inspect printed theirs with the sandbox's paths and the runtime's and
 * Node's frames, which the host could not map to the sources. Only while it formats: the
 * tenant's own util.inspect is left as Node's.
 */
function withNestedErrorsShown(format: () => string): string {
  const proto = Error.prototype as unknown as Record<symbol, unknown>;
  const had = Object.getOwnPropertyDescriptor(proto, inspect.custom);
  try {
    Object.defineProperty(proto, inspect.custom, {
      value(this: Error, depth: number, options: InspectOptionsStylized, show: typeof inspect) {
        return errorText(this, depth, options, show);
      },
      configurable: true,
      writable: true,
    });
  } catch {
    return format(); // a frozen Error.prototype (hardened code): printed as inspect prints it
  }
  try {
    return format();
  } finally {
    if (had) Object.defineProperty(proto, inspect.custom, had);
    else delete proto[inspect.custom];
  }
}

/** Loads the tenant's module: from a file the host wrote, or (in a VM) from the bytes in the frame. */
async function load(head: FrameHead, code: Uint8Array | null): Promise<void> {
  if (code) {
    mkdirSync(path.dirname(String(head.file)), { recursive: true });
    writeFileSync(String(head.file), code);
  }
  moduleUrl = pathToFileURL(String(head.file)).href;
  shownUrl = `file:///${String(head.name)}.js`;
  const services = Array.isArray(head.services) ? head.services.map(String) : [];
  const bindings: Record<string, unknown> = Object.fromEntries(services.map((b) => [b, new Fetcher(b)]));
  const ai = head.ai as { binding: string; limits: AiLimits } | undefined;
  if (ai) bindings[ai.binding] = new Ai(ai.limits, processAi);
  // Not frozen, as in an isolate (and on workerd).
  env = { ...(head.env as Record<string, unknown>), ...bindings };
  // As workerd with nodejs_compat puts them (nodejs_compat_populate_process_env, the default since
  // 2025-04-01): the function's variables are in process.env too, where Node libraries look (an
  // SDK reading its API key). A JSON variable is its JSON text, as workerd's json bindings are; a
  // binding (a service, env.AI) is no text and stays out. Nothing of the host's is here to leak:
  // the sandbox starts with a clean environment.
  for (const [key, value] of Object.entries(head.env as Record<string, unknown>)) {
    process.env[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  // cloudflare:workers' env is this object, from the module's first line.
  Object.defineProperty(globalThis, ENV_KEY, { value: env, writable: false, configurable: true, enumerable: false });
  // A script in service-worker syntax reads its bindings as globals from its first line; a
  // module's are taken away again once it turns out to be one.
  const exposed = exposeBindings(env);
  let namespace: { default?: ExportedHandler };
  try {
    namespace = (await import(moduleUrl)) as { default?: ExportedHandler };
  } catch (err) {
    // What the tenant's top level threw, which the host names as workerd does ("Uncaught TypeError: …").
    send({ t: 'load-error', ...errorFields(err), uncaught: true });
    return;
  }
  try {
    const chosen = tenantHandler<ExportedHandler>(namespace.default, serviceWorker);
    handler = chosen.handler;
    if (!chosen.listening) takeBackBindings(exposed);
    // Compiling lol-html takes ~30–50 ms of CPU: within the load's budget rather than a request's
    // limit, for a function whose code names it. A failure here surfaces when the function uses it.
    if (head.htmlRewriter === true) {
      try {
        loadLolHtml();
      } catch {}
    }
    send({ t: 'ready' });
  } catch (err) {
    send({ t: 'load-error', ...errorFields(err) });
  }
}

function flatHeaders(headers: Headers): string[] {
  const flat: string[] = [];
  for (const [name, value] of headers) flat.push(name, value);
  return flat;
}

/** The streamed request bodies waiting for their next chunk from the host, by request id. */
const uploads = new Map<number, (head: FrameHead, bytes: Uint8Array | null) => void>();

/** Request `id`'s body as a stream that asks the host for each chunk ('body-pull', 'body-chunk'). */
function uploadStream(id: number): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull: (controller) => new Promise<void>((resolve) => {
      uploads.set(id, (head, bytes) => {
        uploads.delete(id);
        if (head.error !== undefined) controller.error(new TypeError(String(head.error)));
        else if (head.end === true) controller.close();
        else controller.enqueue(bytes ?? new Uint8Array(0));
        resolve();
      });
      send({ t: 'body-pull', id });
    }),
    cancel: () => {
      uploads.delete(id);
      send({ t: 'body-cancel', id });
    },
  }, { highWaterMark: 0 });
}

/**
 * request.signal of the requests not answered whole yet: the host's 'abort' frame (its client
 * disconnected) aborts it, as on the isolate tier (runtime-api/dispatch/client-signal.ts).
 */
const clientSignals = new Map<number, AbortController>();

/** Responses made with `encodeBody: 'manual'`: their bytes are already as Content-Encoding says. */
const encodedByTenant = new WeakSet<Response>();

/** The lengths FixedLengthStreams declared for their readable sides: a body's Content-Length. */
const declaredLengths = new WeakMap<ReadableStream, number>();

function abortRequest(id: number): void {
  clientSignals.get(id)?.abort(new DOMException('The request was cancelled before its response was complete (its client disconnected)', 'AbortError'));
}

async function runRequest(head: FrameHead, body: Uint8Array | null): Promise<void> {
  const id = head.id!;
  const ctx = new ExecutionContext();
  const client = new AbortController();
  clientSignals.set(id, client);
  try {
    const pairs = head.headers as string[];
    const headers = new Headers();
    for (let i = 0; i < pairs.length; i += 2) headers.append(pairs[i]!, pairs[i + 1]!);
    // Incoming requests are redirect "manual", as on Workers: a proxy passes redirects through.
    const init: RequestInit & { duplex?: 'half' } = { method: String(head.method), headers, body, redirect: 'manual', signal: client.signal };
    // A big or chunked upload streams: read from the host as the tenant reads it.
    if (head.streamBody === true) Object.assign(init, { body: uploadStream(id), duplex: 'half' });
    const request = new Request(String(head.url), init);
    // Workers' request.cf, empty off Cloudflare's edge, as the isolate tier gives it.
    Object.defineProperty(request, 'cf', { value: {}, enumerable: true });
    if (typeof handler?.fetch !== 'function') throw new TypeError('this function has no fetch handler (it exports only scheduled)');
    const response = await handler.fetch(request, env, ctx);
    if (!(response instanceof Response)) throw new TypeError(`the fetch handler must return a Response (or a Promise of one), got ${typeof response === 'string' ? `the string ${JSON.stringify(response.slice(0, 40))}` : String(response)}`);
    if (response.type === 'error') throw new TypeError('the fetch handler returned Response.error(), which cannot be sent');
    const socketEnd = responseSockets.get(response);
    if (socketEnd !== undefined) {
      const socket = webSockets.handOver(socketEnd);
      send({ t: 'res', id, status: 101, statusText: '', headers: flatHeaders(response.headers), hasBody: false, webSocket: socket, waitUntil: ExecutionContext.promisesOf(ctx).length > 0 });
      throw SENT;
    }
    const answer = {
      t: 'res', id, status: response.status, statusText: response.statusText, headers: flatHeaders(response.headers),
      ...(encodedByTenant.has(response) && { encoded: true }),
    };
    if (response.body === null) {
      send({ ...answer, hasBody: false, waitUntil: ExecutionContext.promisesOf(ctx).length > 0 });
    } else {
      const length = declaredLengths.get(response.body);
      const { bytes, rest } = await readyBytes(response.body.getReader());
      if (rest) streams.set(id, rest);
      send({ ...answer, hasBody: true, stream: rest !== undefined, ...(rest && length !== undefined && { length }), waitUntil: ExecutionContext.promisesOf(ctx).length > 0 }, bytes);
    }
  } catch (err) {
    if (err !== SENT) send({ t: 'exc', id, ...errorFields(err), waitUntil: ExecutionContext.promisesOf(ctx).length > 0 });
  }
  // A streamed body's request ends with its stream (pullBody, cancelBody).
  if (!streams.has(id)) clientSignals.delete(id);
  if (ExecutionContext.promisesOf(ctx).length) {
    await settleWaitUntil(ctx);
    send({ t: 'done', id });
  }
}

/**
 * Waits for ctx.waitUntil's promises; one that rejects is logged, as an uncaught error is. With
 * the first rejection's reason, if one rejected (a scheduled run then failed, as on isolates).
 */
async function settleWaitUntil(ctx: ExecutionContext): Promise<{ reason: unknown } | undefined> {
  let failed: { reason: unknown } | undefined;
  for (const result of await Promise.allSettled(ExecutionContext.promisesOf(ctx))) {
    if (result.status !== 'rejected') continue;
    sendLog('error', uncaught(result.reason, false));
    failed ??= { reason: result.reason };
  }
  return failed;
}

/** A response body still being produced: the host pulls it chunk by chunk ('pull' frames). */
interface BodyStream {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** A read started before the head went out, still to be answered. */
  pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  /** Why the stream already failed, to be said on the first pull (as the isolate tier does). */
  failed?: Error;
}

const streams = new Map<number, BodyStream>();

/** A body held whole up to this size when it is all there at once; past it, it streams. */
const WHOLE_BODY_BYTES = 1024 * 1024;

const NOT_YET = Symbol('not yet');

/** `read` if it settles within this turn of the event loop (a body already there), else NOT_YET. */
function soon<T>(read: Promise<T>): Promise<T | typeof NOT_YET> {
  return Promise.race([read, new Promise<typeof NOT_YET>((resolve) => setImmediate(() => resolve(NOT_YET)))]);
}

const NOT_BYTES = 'The body stream gave a chunk that is not a string, an ArrayBuffer or a view of one';

/** A chunk's bytes: any BufferSource. */
function bytesOf(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return undefined;
}

/**
 * A response body chunk's bytes as the isolate tier (and workerd) send it: any BufferSource, or a
 * string as UTF-8 (server-sent events code enqueues strings); undefined for anything else.
 */
function sentBytesOf(value: unknown): Uint8Array | undefined {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : bytesOf(value);
}

function chunkOf(value: unknown): Uint8Array {
  const bytes = sentBytesOf(value);
  if (!bytes) throw new TypeError(NOT_BYTES);
  return bytes;
}

/**
 * What of a body is there now. A fixed body (a string, bytes: one chunk, already read) comes back
 * whole; one still being produced (server-sent events, a proxied stream) or a big one comes back
 * with the bytes read so far and the rest to stream, so its head goes out without waiting.
 */
async function readyBytes(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<{ bytes: Uint8Array; rest?: BodyStream }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let read = reader.read(); ;) {
    const result = await soon(read);
    if (result === NOT_YET) return { bytes: Buffer.concat(chunks, size), rest: { reader, pending: read } };
    if (result.done) return { bytes: Buffer.concat(chunks, size) };
    const chunk = sentBytesOf(result.value);
    if (!chunk) {
      // The head goes out and the body fails after it, as on the isolate tier, which reads the
      // body only once its head is sent: a 200 and a cut connection, not a 500.
      return { bytes: Buffer.concat(chunks, size), rest: { reader, pending: undefined, failed: new TypeError(NOT_BYTES) } };
    }
    chunks.push(chunk);
    size += chunk.byteLength;
    read = reader.read();
    if (size > WHOLE_BODY_BYTES) return { bytes: Buffer.concat(chunks, size), rest: { reader, pending: read } };
  }
}

/** The host wants the next chunk of request `id`'s streamed body. */
async function pullBody(id: number): Promise<void> {
  const body = streams.get(id);
  if (!body) return;
  try {
    if (body.failed) throw body.failed;
    const read = body.pending ?? body.reader.read();
    body.pending = undefined;
    const result = await read;
    if (result.done) {
      streams.delete(id);
      clientSignals.delete(id);
      send({ t: 'chunk', id, end: true });
    } else {
      send({ t: 'chunk', id }, chunkOf(result.value));
    }
  } catch (err) {
    streams.delete(id);
    clientSignals.delete(id);
    body.reader.cancel(err).catch(() => {});
    send({ t: 'chunk', id, end: true, error: errorFields(err).message });
  }
}

/** The client went away (or the answer was refused): the tenant's stream is cancelled, its signal aborted. */
function cancelBody(id: number): void {
  const body = streams.get(id);
  streams.delete(id);
  abortRequest(id);
  clientSignals.delete(id);
  body?.reader.cancel().catch(() => {});
}

async function runScheduled(head: FrameHead): Promise<void> {
  const ctx = new ExecutionContext();
  try {
    if (typeof handler?.scheduled !== 'function') throw new TypeError('this function has no scheduled handler');
    const controller = { cron: String(head.cron), scheduledTime: Number(head.scheduledTime), noRetry() {} };
    await handler.scheduled(controller, env, ctx);
    const failed = await settleWaitUntil(ctx);
    if (failed) throw failed.reason;
    send({ t: 'sched-done', id: head.id });
  } catch (err) {
    send({ t: 'exc', id: head.id, ...errorFields(err), waitUntil: false });
  }
}

/** AI calls waiting for the host (the binding's quota check). */
let aiPending = 0;

/**
 * env.AI's way to the host from a process: an 'ai' frame whose body holds the numeric inputs one
 * after another (their sizes and the strings in the head), answered 'fetch-res' with the outputs
 * described the same way, or `aiError`.
 */
const processAi: AiTransport = {
  isSignal: (value) => value instanceof AbortSignal,
  get pending() {
    return aiPending;
  },
  async call(model, wire, timeoutMs, signal) {
    // The checked inputs are arrays with no prototype (ai-core.ts): Array's methods are lent.
    // Every input's bytes in the body, text too (encodeStrings): the host takes only small heads.
    const parts = Array.prototype.map.call(wire, (t: WireTensor) => (t.data instanceof ArrayBuffer ? new Uint8Array(t.data) : encodeStrings(t.data as string[]))) as Uint8Array[];
    const tensors = Array.prototype.map.call(wire, (t: WireTensor, i: number) => ({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: parts[i]!.byteLength }));
    aiPending++;
    try {
      const { head, body } = await hostCall({ t: 'ai', model, timeoutMs, tensors }, parts.length ? Buffer.concat(parts) : null, signal as AbortSignal | undefined);
      const failed = head.aiError as { code: string; message: string } | undefined;
      if (failed) throw new AIError(String(failed.code), String(failed.message));
      const outputs = head.outputs as [string, string, number[], string[] | null, number][];
      const buffers: ArrayBuffer[] = [];
      let offset = 0;
      for (const [, , , strings, bytes] of outputs) {
        if (strings) continue;
        // A copy of its own (a Buffer's slice would share the frame's memory); an empty body is null.
        buffers.push(new Uint8Array((body ?? new Uint8Array(0)).subarray(offset, offset + bytes)).buffer as ArrayBuffer);
        offset += bytes;
      }
      return outputsOf(outputs.map(([name, dtype, shape, strings]) => [name, dtype, shape, strings]), buffers);
    } finally {
      aiPending--;
    }
  },
};

/** A service binding (env.AUTH): its fetch() goes to the function bound, through the host. */
class Fetcher {
  readonly #binding: string;
  constructor(binding: string) {
    this.#binding = binding;
  }
  fetch(input: Request | string | URL, init?: RequestInit): Promise<Response> {
    return hostFetch(input, init, this.#binding);
  }
  get [Symbol.toStringTag](): string {
    return 'Fetcher';
  }
}

/**
 * fetch() inside the sandbox: the host makes the request, under the function's egress policy, or
 * hands it to the function bound to `service` (a service binding's fetch).
 */
async function hostFetch(input: Request | string | URL, init?: RequestInit, service?: string): Promise<Response> {
  // Workers send a stream body without asking for `duplex: 'half'`, which Node's Request demands.
  const needsDuplex = init?.body instanceof ReadableStream && !('duplex' in init);
  const request = new Request(input, needsDuplex ? { ...init, duplex: 'half' } as RequestInit : init);
  // An aborted signal stops the subrequest before it leaves, as fetch() does everywhere.
  request.signal.throwIfAborted();
  // Workers: a fetch() asking to upgrade to a WebSocket answers with the socket to accept.
  if (asksForWebSocket(request.method, request.headers.get('upgrade'))) {
    if (service !== undefined) throw new TypeError(`${service}.fetch: WebSockets through a service binding are not supported`);
    const [socket, socketId] = webSockets.outbound();
    try {
      const { head, body } = await hostCall({ t: 'ws-connect', url: request.url, headers: flatHeaders(request.headers), socket: socketId }, null, request.signal);
      if (head.socket === undefined) webSockets.release(socketId);
      return responseOf(head, body, request.url, head.socket === undefined ? null : socket);
    } catch (err) {
      webSockets.release(socketId);
      throw err;
    }
  }
  const body = request.body ? new Uint8Array(await request.arrayBuffer()) : null;
  const { head, body: resBody } = await hostCall({ t: 'fetch', method: request.method, url: request.url, headers: flatHeaders(request.headers), redirect: request.redirect, ...(service !== undefined && { service }) }, body, request.signal);
  return responseOf(head, resBody, request.url, null);
}

/** A subrequest frame to the host (its id added), and the 'fetch-res' that answers it; `signal` aborts it. */
async function hostCall(head: FrameHead, body: Uint8Array | null, signal?: AbortSignal): Promise<Frame> {
  const id = nextSubrequest++;
  const answer = new Promise<Frame>((resolve, reject) => subrequests.set(id, { resolve, reject }));
  const onAbort = () => {
    send({ t: 'fetch-abort', id });
    subrequests.get(id)?.reject(signal!.reason);
    subrequests.delete(id);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  send({ ...head, id }, body);
  try {
    const frame = await answer;
    if (frame.head.error !== undefined) throw new TypeError(String(frame.head.error));
    return frame;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The Response a 'fetch-res' describes; with `webSocket`, the upgrade's (status 101). */
function responseOf(head: FrameHead, body: Uint8Array | null, requestUrl: string, webSocket: unknown): Response {
  const pairs = head.headers as string[];
  const headers = new Headers();
  for (let i = 0; i < pairs.length; i += 2) headers.append(pairs[i]!, pairs[i + 1]!);
  const status = Number(head.status);
  const nullBody = status === 101 || status === 204 || status === 205 || status === 304;
  const response = webSocket !== null
    ? new Response(null, { status: 101, statusText: String(head.statusText), headers, webSocket } as ResponseInit)
    : new Response(nullBody ? null : body, { status, statusText: String(head.statusText), headers });
  const urls = head.urls as string[];
  Object.defineProperty(response, 'url', { value: urls[urls.length - 1] ?? requestUrl });
  Object.defineProperty(response, 'redirected', { value: urls.length > 1 });
  return response;
}

/**
 * console lines go to the host's log, tagged with the function, formatted as Node prints them;
 * so do writes to process.stdout, which may be the channel itself.
 */
function forwardConsole(): void {
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      sendLog('log', chunk.toString().replace(/\n$/, ''));
      done();
    },
  });
  Object.defineProperty(process, 'stdout', { value: stdout, configurable: true });
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    console[level] = (...args: unknown[]) => {
      // printf-style substitutions (%s, %d, %o…) as every console has; an Error prints its stack as
      // the isolate tier shows it (the module's public name, no runtime or Node frames).
      const message = withNestedErrorsShown(() => formatWithOptions({ depth: 4, breakLength: Infinity }, ...args.map((a) => (a instanceof Error ? shownError(a) : a))));
      sendLog(level, message);
    };
  }
}

function onFrame({ head, body }: Frame): void {
  switch (head.t) {
    case 'load': void load(head, body); break;
    case 'req': void runRequest(head, body); break;
    case 'sched': void runScheduled(head); break;
    case 'ping': send({ t: 'pong', id: head.id }); break;
    case 'pull': void pullBody(head.id!); break;
    case 'cancel': cancelBody(head.id!); break;
    case 'abort': abortRequest(head.id!); break;
    case 'body-chunk': uploads.get(head.id!)?.(head, body); break;
    case 'ws': {
      // A WebSocket event, one at a time: 'ws-done' once its listeners have run (its CPU is metered as a turn).
      const data = head.kind === SOCKET_MESSAGE ? (head.text === true ? Buffer.from(body ?? []).toString('utf8') : arrayBufferOf(body)) : null;
      try {
        webSockets.event(Number(head.id), Number(head.kind), data, Number(head.code ?? 0), String(head.reason ?? ''));
      } finally {
        send({ t: 'ws-done' });
      }
      break;
    }
    case 'cache-res': {
      const pending = cacheCalls.get(head.id!);
      cacheCalls.delete(head.id!);
      pending?.({ head, body });
      break;
    }
    case 'fetch-res': {
      const pending = subrequests.get(head.id!);
      subrequests.delete(head.id!);
      pending?.resolve({ head, body });
      // A WebSocket handshake aborted while the host was making it: the socket it opened has no taker.
      if (!pending && head.socket !== undefined) send({ t: 'ws-close', id: Number(head.socket), code: 1000, reason: 'the WebSocket handshake was aborted' });
      break;
    }
  }
}

/**
 * Node loads its Web API implementation (undici) on first use, ~20–50 ms here: do it while the
 * sandbox is blank, so that it is not part of a cold start.
 */
async function warmWebApis(): Promise<void> {
  const request = new Request('http://warm.invalid/', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: new Uint8Array([1]) });
  await request.arrayBuffer();
  const response = new Response('warm', { headers: { 'x-warm': '1' } });
  flatHeaders(response.headers);
  await response.arrayBuffer();
  new URL('http://warm.invalid/a?b=c').searchParams.get('b');
}

/** The error Node's permission model throws, for what the runtime refuses beside it. */
function accessDenied(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_ACCESS_DENIED' });
}

/**
 * Node's permission model (the process tier's boundary) does not cover signals or scheduling
 * priorities, and where the launcher cannot give the sandbox a uid of its own (an engine not
 * running as root) it shares the engine's user and process group: process.kill(0) or
 * process.kill(process.ppid) ended the engine and every tenant with it, process._debugProcess
 * opened its inspector, and os.setPriority could starve it. Before any tenant code loads, each is
 * held to this process; the originals stay in this closure only. (Containers, gVisor and VMs also
 * have their own user and pid namespace.)
 */
function confineToSelf(): void {
  // Taken now: process.pid is configurable, and a tenant could make it the engine's.
  const ownPid = process.pid;
  const denied = (what: string) => accessDenied(`${what}: a sandbox may act only on its own process (pid ${ownPid})`);
  // A number, checked and then passed on as it is: an object's valueOf could say one pid to the
  // check and another (0, the process group) to the kill.
  const self = (pid: unknown): pid is number => typeof pid === 'number' && pid === ownPid;
  const internals = process as unknown as { _kill(pid: number, signal: number): number };
  const rawKill = internals._kill.bind(process);
  internals._kill = (pid, signal) => {
    if (!self(pid)) throw denied('process.kill');
    return rawKill(pid, signal);
  };
  const kill = process.kill.bind(process);
  process.kill = (pid, signal) => {
    if (!self(pid)) throw denied('process.kill');
    return kill(pid, signal);
  };
  // process._debugProcess(pid) sends SIGUSR1, which opens the inspector of a Node process that did
  // not disable it: a probe opened the engine's this way and ran code in it over loopback. Not
  // needed even for the sandbox itself (the permission model refuses it an inspector).
  (process as unknown as { _debugProcess(pid: number): void })._debugProcess = () => {
    throw denied('process._debugProcess');
  };
  const setPriority = os.setPriority.bind(os) as (pid: number, priority: number) => void;
  os.setPriority = ((pid: unknown, priority?: unknown) => {
    if (priority === undefined) return setPriority(0, pid as number);
    if (pid !== 0 && !self(pid)) throw denied('os.setPriority');
    return setPriority(pid as number, priority as number);
  }) as typeof os.setPriority;
  // `import { setPriority } from 'node:os'` in a tenant module sees the guarded one too.
  syncBuiltinESMExports();
}

/**
 * SQLite opens its files itself, past Node's permission model: a probe's tenant, with no write
 * permission, created `/tmp/pwn.db` through `new DatabaseSync(':memory:')` and `ATTACH`, and 50 MB
 * in /dev/shm in 43 ms (`new DatabaseSync('/tmp/x.db')` creates a file as well), files that
 * outlive the sandbox. Where the permission model is the boundary (the process tier) node:sqlite
 * is refused whole — its classes and functions replaced before tenant code loads, for `import`,
 * `require` and process.getBuiltinModule alike (they share one exports object). Where the kernel is
 * the boundary (containers, gVisor, VMs: no permission model, a private /tmp) it stays.
 */
function refuseSqliteWhereNoWrites(): void {
  const permission = (process as unknown as { permission?: { has(scope: string): boolean } }).permission;
  if (!permission || permission.has('fs.write')) return;
  const sqlite = process.getBuiltinModule('node:sqlite') as Record<string, unknown>;
  const refuse = function refused(): never {
    throw accessDenied('node:sqlite: not on the process tier (SQLite writes files past Node\'s permission model); the container tiers allow it');
  };
  for (const key of Object.keys(sqlite)) if (typeof sqlite[key] === 'function') sqlite[key] = refuse;
  syncBuiltinESMExports();
}

/**
 * Node's permission model does not cover the network in Node 24. The launcher puts the sandbox in
 * an empty network namespace where the host allows (README), but a path socket is a file, outside
 * any network namespace, and a host may allow no namespace: a probe's tenant, sharing the
 * engine's user (root) and network, connected to a 0700 Unix socket of the host's and to an
 * abstract one, and bound 1,000 ports on every interface (the host's own next listen failed). A
 * function answers requests; it does not serve ports or talk to the machine's local services:
 * Unix-domain connections, listening and UDP are refused here too, before tenant code loads.
 */
function confineNetwork(): void {
  const denied = (what: string, doing: string) => accessDenied(`${what}: a sandbox on the process tier may not ${doing}`);
  const unixSockets = 'connect to Unix-domain sockets';
  const connect = Socket.prototype.connect;
  // net.connect(path), connect({ path }), and http's socketPath all come here. A string that is not
  // a port number is a path; a number or numeric string a TCP port. Options are copied, each
  // member read once, and the copy is what is checked and passed on: a Proxy answered no path to
  // the check and the host's socket to net.
  Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
    // net.connect() hands over [options, callback] (normalized); a caller gives (options, callback).
    const normalized = Array.isArray(args[0]);
    const first = normalized ? (args[0] as unknown[])[0] : args[0];
    const callback = normalized ? (args[0] as unknown[])[1] : args[1];
    if (first !== null && typeof first === 'object') {
      const options = Object.assign({}, first) as { path?: unknown };
      if (options.path !== undefined && options.path !== null) throw denied('net.Socket.connect', unixSockets);
      return Reflect.apply(connect, this, callback === undefined ? [options] : [options, callback]) as Socket;
    }
    if (typeof first === 'string' && !/^\s*\d+\s*$/.test(first)) throw denied('net.Socket.connect', unixSockets);
    return Reflect.apply(connect, this, normalized ? [first, callback] : args) as Socket;
  } as typeof Socket.prototype.connect;
  // listen() and the method every listen path ends in (a probe called it directly).
  const refuseListen = function () {
    throw denied('net.Server.listen', 'listen for connections');
  };
  Server.prototype.listen = refuseListen as typeof Server.prototype.listen;
  (Server.prototype as unknown as { _listen2: unknown })._listen2 = refuseListen;
  // UDP's every way to a socket of the system's: made with createSocket or the constructor, a
  // dgram socket binds on bind, send or connect.
  dgram.createSocket = (() => {
    throw denied('dgram.createSocket', 'use UDP');
  }) as typeof dgram.createSocket;
  for (const method of ['bind', 'send', 'connect'] as const) {
    (dgram.Socket.prototype as unknown as Record<string, unknown>)[method] = () => {
      throw denied(`dgram.Socket.${method}`, 'use UDP');
    };
  }
  syncBuiltinESMExports();
}

confineToSelf();
confineNetwork();
refuseSqliteWhereNoWrites();
forwardConsole();
globalThis.fetch = hostFetch;
// Workers' timer ids are numbers (Node's are objects); Node's clear functions take the number too.
const { setTimeout: nodeSetTimeout, setInterval: nodeSetInterval } = globalThis;
globalThis.setTimeout = ((...args: Parameters<typeof nodeSetTimeout>) => Number(nodeSetTimeout(...args))) as unknown as typeof setTimeout;
globalThis.setInterval = ((...args: Parameters<typeof nodeSetInterval>) => Number(nodeSetInterval(...args))) as unknown as typeof setInterval;
// workerd's scheduler.wait(ms, { signal }); Node's timers/promises has the same one.
Object.defineProperty(globalThis, 'scheduler', { value: scheduler, writable: true, configurable: true });
// As in an isolate: Node's own ("Node.js/24") made Hono's adapter read env from process.env.
Object.defineProperty(globalThis.navigator, 'userAgent', { value: WORKERS_USER_AGENT, writable: false, configurable: true, enumerable: true });
// Workers' `new Response(body, { encodeBody: 'manual' })`, which Node's Response drops: noted here
// (a Proxy, so that instanceof and the statics stay Node's own) and told to the host.
// And, as workerd (and the isolate tier) do, an empty body with a null-body status (a CORS
// preflight's `new Response('', { status: 204 })`) is taken as no body, where Fetch would throw.
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
// Workers' Response has a webSocket, null unless it answers (or a fetch() made) an upgrade.
Object.defineProperty(globalThis.Response.prototype, 'webSocket', { get: () => null, configurable: true });
globalThis.Response = new Proxy(globalThis.Response, {
  construct(target, args, newTarget) {
    const webSocket = (args[1] as { webSocket?: unknown } | undefined)?.webSocket ?? null;
    if (webSocket !== null || Number((args[1] as { status?: unknown } | undefined)?.status) === 101) return socketResponse(target, args, newTarget, webSocket);
    const status = (args[1] as { status?: unknown } | undefined)?.status;
    const body = args[0];
    const empty = body === '' || ((body instanceof ArrayBuffer || ArrayBuffer.isView(body)) && body.byteLength === 0);
    if (empty && NULL_BODY_STATUSES.has(Number(status))) args = [null, ...args.slice(1)];
    const response = Reflect.construct(target, args, newTarget) as Response;
    if ((args[1] as { encodeBody?: unknown } | undefined)?.encodeBody === 'manual') encodedByTenant.add(response);
    return response;
  },
});
/**
 * Workers' `new Response(null, { status: 101, webSocket })`, which Node's Response refuses (101 is
 * outside 200-599): made with 200, then shows 101 and its webSocket, and is sent as the upgrade's
 * answer (runRequest). The same rules as the isolate tier's Response.
 */
function socketResponse(target: typeof Response, args: unknown[], newTarget: Function, webSocket: unknown): Response {
  const init = (args[1] ?? {}) as ResponseInit & { webSocket?: unknown };
  if (webSocket === null) throw new RangeError("Failed to construct 'Response': status 101 needs a webSocket (an end of a WebSocketPair)");
  if (Number(init.status) !== 101) throw new RangeError(`Failed to construct 'Response': a response with a webSocket must have status 101, not ${init.status ?? 200}`);
  const response = Reflect.construct(target, [null, { headers: init.headers, statusText: init.statusText }], newTarget) as Response;
  Object.defineProperty(response, 'status', { value: 101 });
  Object.defineProperty(response, 'webSocket', { value: webSocket });
  responseSockets.set(response, webSocket);
  return response;
}

/** Workers' crypto.DigestStream, as the isolate tier has it, over node:crypto. */
const DigestStream = defineDigestStream(WritableStream, {
  hasher(algorithm) {
    const name = nodeDigestName(algorithm, 'DigestStream', DOMException);
    const hash = createHash(name);
    return {
      update: (bytes) => void hash.update(bytes),
      finish() {
        const out = hash.digest();
        return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
      },
      drop: () => {},
    };
  },
  bytesOf: (chunk) => sentBytesOf(chunk) ?? null,
});
Object.defineProperty(globalThis.crypto, 'DigestStream', { value: DigestStream, writable: true, configurable: true, enumerable: false });

// Workers' service-worker syntax, as the isolate tier has it.
const serviceWorker = defineServiceWorker(Event, DOMException);
for (const name of ['addEventListener', 'removeEventListener', 'FetchEvent', 'ScheduledEvent'] as const) {
  Object.defineProperty(globalThis, name, { value: serviceWorker[name], writable: true, configurable: true, enumerable: false });
}

// Workers' Cache API, as the isolate tier has it: the host keeps the responses (engine/cache/).
const cacheCalls = new Map<number, (frame: Frame) => void>();
let nextCacheCall = 1;
const cacheApi = defineCacheApi({
  Request,
  flatHeaders,
  async call(op, cacheName, request, response, ignoreMethod) {
    const id = nextCacheCall++;
    const answer = new Promise<Frame>((resolve) => cacheCalls.set(id, resolve));
    const body = response?.[3];
    // A body of none and an empty one differ (a 200 with '' against a 204): the head says which.
    send({ t: 'cache', id, op, cacheName, request, response: response && response.slice(0, 3), hasBody: body != null, ignoreMethod }, body ? new Uint8Array(body) : null);
    const { head, body: bytes } = await answer;
    if (head.error !== undefined) throw new TypeError(String(head.error));
    if (head.status === undefined) return head.value as boolean | number | null;
    const kept = head.hasBody === true ? (bytes ?? new Uint8Array(0)) : null;
    // A frame's body is a copy of its own (protocol.ts), so its buffer is the body exactly.
    const whole = kept && kept.byteOffset === 0 && kept.byteLength === kept.buffer.byteLength;
    return [Number(head.status), String(head.statusText), head.headers as string[], kept && (whole ? kept.buffer as ArrayBuffer : kept.slice().buffer)];
  },
  responseOf: ([status, statusText, pairs, body]: CachedAnswer) => {
    const headers = new Headers();
    for (let i = 0; i + 1 < pairs.length; i += 2) headers.append(pairs[i]!, pairs[i + 1]!);
    return new Response(body, { status, statusText, headers });
  },
});
for (const [name, value] of Object.entries(cacheApi)) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

/**
 * Node's EventTarget reports a listener's exception as an uncaught exception, which ends this
 * process and every socket and request in it. A WebSocket's listeners report it as the isolate
 * tier's do: to the function's log, the socket and the sandbox going on.
 */
type Listener = ((event: Event) => unknown) | { handleEvent(event: Event): unknown };
type Wrapped = (event: Event) => unknown;

class ReportingEventTarget extends EventTarget {
  readonly #wrapped = new WeakMap<object, Map<string, Wrapped>>();

  override addEventListener(type: string, listener: Listener | null, options?: Parameters<EventTarget['addEventListener']>[2]): void {
    if (listener === null) return;
    const byType = this.#wrapped.get(listener) ?? new Map<string, Wrapped>();
    this.#wrapped.set(listener, byType);
    let wrapper = byType.get(type);
    if (!wrapper) {
      const target = this;
      wrapper = function (this: unknown, event: Event) {
        try {
          const result: unknown = typeof listener === 'function' ? listener.call(target, event) : listener.handleEvent(event);
          // An async listener's rejection is an unhandled one, logged as such (process.on below).
          return result;
        } catch (err) {
          sendLog('error', uncaught(err, false));
        }
      };
      byType.set(type, wrapper);
    }
    super.addEventListener(type, wrapper as (event: Event) => void, options);
  }

  override removeEventListener(type: string, listener: Listener | null, options?: Parameters<EventTarget['removeEventListener']>[2]): void {
    if (listener === null) return;
    const wrapper = this.#wrapped.get(listener)?.get(type);
    super.removeEventListener(type, (wrapper ?? listener) as Wrapped, options);
  }
}

// Workers' server-side WebSockets, as the isolate tier has them: the host carries the messages
// ('ws-send', 'ws-close' out; 'ws' in, each answered 'ws-done').
const webSockets = defineWebSockets({
  EventTarget: ReportingEventTarget as unknown as WebSocketDeps['EventTarget'],
  DOMException: DOMException as unknown as WebSocketDeps['DOMException'],
  MessageEvent: MessageEvent as unknown as WebSocketDeps['MessageEvent'],
  CloseEvent: CloseEvent as unknown as WebSocketDeps['CloseEvent'],
  encoder: new TextEncoder(),
  toDOMString: (value) => `${value as string}`,
  // WebIDL unsigned short: ToNumber, truncated, modulo 2^16.
  toUnsignedShort: (value) => {
    const n = Math.trunc(Number(value));
    return Number.isFinite(n) ? ((n % 65536) + 65536) % 65536 : 0;
  },
  requireArguments: (given, required, where) => {
    if (given < required) throw new TypeError(`${where}: ${required} argument${required === 1 ? '' : 's'} required, but only ${given} present`);
  },
  defineInterface: (cls, name) => Object.defineProperty(cls.prototype, Symbol.toStringTag, { value: name, configurable: true }),
  // The host checks them again; what it refuses it cannot say back in time to throw here.
  send: (id, data) => {
    send({ t: 'ws-send', id, text: typeof data === 'string' }, typeof data === 'string' ? Buffer.from(data) : new Uint8Array(data));
    return null;
  },
  close: (id, code, reason) => {
    send({ t: 'ws-close', id, code, reason });
    return null;
  },
  accept: (id) => send({ t: 'ws-accept', id }),
  URL: NodeURL,
  Event: NodeEvent as unknown as WebSocketDeps['Event'],
  // `new WebSocket(url)`: the same handshake as a fetch() with Upgrade, made for this socket.
  connect: async (id, url, protocols) => {
    const { head } = await hostCall({ t: 'ws-connect', url, headers: protocols.length > 0 ? ['sec-websocket-protocol', protocols.join(', ')] : [], socket: id }, null);
    if (head.socket === undefined) throw new TypeError(`the server answered the WebSocket handshake with ${String(head.status)}`);
    const pairs = head.headers as string[];
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === 'sec-websocket-protocol') return pairs[i + 1]!;
    return '';
  },
});
for (const name of ['WebSocket', 'WebSocketPair'] as const) {
  Object.defineProperty(globalThis, name, { value: webSockets[name], writable: true, configurable: true, enumerable: false });
}

// Workers' HTMLRewriter, as the isolate tier has it: lol-html from this file (lol-html-module.ts),
// loaded when the function loads if its code names HTMLRewriter (load, below), else on first use.
const loadLolHtml = lolHtmlLoader(() => require('html-rewriter-wasm') as Glue, () => {});
const { HTMLRewriter } = defineHTMLRewriter({
  lolHtml: loadLolHtml,
  Response,
  Headers,
  ReadableStream,
  isResponse: (value): value is Response => value instanceof Response,
});
Object.defineProperty(globalThis, 'HTMLRewriter', { value: HTMLRewriter, writable: true, configurable: true, enumerable: false });

// Workers' byte TransformStreams, as the isolate tier defines them.
const identity = defineIdentityStreams(TransformStream, (chunk) => bytesOf(chunk) ?? null, (readable, length) => declaredLengths.set(readable, length));
for (const [name, value] of Object.entries(identity)) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}
await warmWebApis();
send({ t: 'booted' });
input.on('data', (chunk: Buffer) => {
  for (const frame of reader.push(chunk)) onFrame(frame);
});
// The host closed the channel: nothing more will come, so end (timers included).
input.on('end', () => process.exit(0));
process.on('unhandledRejection', (err) => sendLog('error', uncaught(err, true)));
