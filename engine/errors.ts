// Typed errors and the one place they turn into HTTP answers. A tenant-facing error carries the
// `islet-error` code, the status and the JSON `error` field; everything else is a host bug (500).

export abstract class IsletError extends Error {
  /** Value of the `islet-error` response header. */
  abstract readonly code: string;
  /** HTTP status the gateway answers with. */
  abstract readonly status: number;
  /** Value of `error` in the JSON body. */
  abstract readonly errorName: string;
  /** Seconds after which a retry may succeed (the `Retry-After` header), for refusals that pass. */
  readonly retryAfterS?: number;
}

/** The limit a sandbox was stopped for; shared by every request it was serving. */
export class CpuLimitError extends IsletError {
  readonly code = 'cpu-limit';
  readonly status = 503;
  readonly errorName = 'cpu_limit_exceeded';
  constructor(fn: string, cpuMs: number, message = `function "${fn}" exceeded its CPU limit of ${cpuMs} ms`) {
    super(message);
  }
}

export class MemoryLimitError extends IsletError {
  readonly code = 'memory-limit';
  readonly status = 503;
  readonly errorName = 'memory_limit_exceeded';
  constructor(fn: string, memoryMb: number, message = `function "${fn}" exceeded its memory limit of ${memoryMb} MB; its sandbox was ended`) {
    super(message);
  }
}

export class WallLimitError extends IsletError {
  readonly code = 'wall-limit';
  readonly status = 503;
  readonly errorName = 'wall_limit_exceeded';
  constructor(fn: string, wallMs: number) {
    super(`function "${fn}" did not answer within its wall-clock limit of ${wallMs} ms`);
  }
}

export class BodyTooLargeError extends IsletError {
  readonly code = 'body-too-large';
  readonly status = 413;
  readonly errorName = 'body_too_large';
  constructor(fn: string, maxBodyBytes: number) {
    super(`request body for function "${fn}" is larger than its limit of ${maxBodyBytes} bytes`);
  }
}

/** The tenant's code threw (or returned something that is not a Response). */
/**
 * Characters of a thrown error's message, and of its stack, that the host takes from a sandbox;
 * the rest is cut before the stack is split and source-mapped on the event loop. A tenant's 28 MB
 * `e.stack` held the loop for 0.7 s and took 446 MB.
 */
export const THROWN_TEXT_CHARS = 16 * 1024;

/**
 * What a sandbox says its tenant threw, cut to sizes the host can format: the name to 256
 * characters, the message and the stack to THROWN_TEXT_CHARS (the stack at a line's end).
 */
export function boundedThrown(name: string, message: string, stack: string): [string, string, string] {
  let frames = stack;
  if (frames.length > THROWN_TEXT_CHARS) {
    const end = frames.lastIndexOf('\n', THROWN_TEXT_CHARS);
    frames = `${frames.slice(0, end > 0 ? end : THROWN_TEXT_CHARS)}\n    … (cut at ${THROWN_TEXT_CHARS} characters)`;
  }
  return [cutText(name, 256), cutText(message, THROWN_TEXT_CHARS), frames];
}

/**
 * What a sandbox threw or left rejected, as the host got it (isolated-vm copies it whole: a
 * tenant's 512 MB string, or an Error with such a message), made small before anything splits,
 * maps or logs it: an Error with its name, message and stack cut as boundedThrown cuts them, and
 * anything else as an Error whose message is its cut text.
 */
export function boundedError(err: unknown): Error {
  if (err instanceof Error) {
    const stack = typeof err.stack === 'string' ? err.stack : '';
    if (err.message.length <= THROWN_TEXT_CHARS && stack.length <= THROWN_TEXT_CHARS && err.name.length <= 256) return err;
    const [name, message, cutStack] = boundedThrown(err.name, err.message, stack);
    const bounded = new Error(message);
    bounded.name = name;
    bounded.stack = cutStack || `${name}: ${message}`;
    return bounded;
  }
  const text = typeof err === 'string' ? err : String(err);
  const bounded = new Error(cutText(text));
  bounded.stack = bounded.message;
  return bounded;
}

/** `text` cut to `max` characters (a thrown message's THROWN_TEXT_CHARS by default), marked where cut. */
export function cutText(text: string, max = THROWN_TEXT_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export class TenantExceptionError extends IsletError {
  readonly code = 'exception';
  readonly status = 500;
  readonly errorName = 'exception';
  readonly tenantStack: string;
  constructor(fn: string, name: string, message: string, stack: string) {
    super(`function "${fn}" threw ${name}: ${message}`);
    this.tenantStack = stack || `${name}: ${message}`;
  }
}

export class NoSuchFunctionError extends IsletError {
  readonly code = 'no-such-function';
  readonly status = 404;
  readonly errorName = 'no_such_function';
  constructor(fn: string) {
    super(fn ? `no function named "${fn}" is deployed` : 'the request names no function');
  }
}

/** A request islet cannot pass on: its Host and target do not form a URL. */
export class BadRequestError extends IsletError {
  readonly code = 'bad-request';
  readonly status = 400;
  readonly errorName = 'bad_request';
}

/**
 * The client disconnected while its request still waited in the queue: it is dropped there, not
 * run for nobody. 499 is nginx's "client closed request"; no answer reaches the client, but the
 * request log and metrics show it.
 */
export class ClientClosedError extends IsletError {
  readonly code = 'client-closed';
  readonly status = 499;
  readonly errorName = 'client_closed_request';
  constructor(fn: string) {
    super(`the client of a request to function "${fn}" disconnected while it waited in the queue`);
  }
}

/** The client sent a body read whole before dispatch too slowly: not within the function's wallMs. */
export class RequestTimeoutError extends IsletError {
  readonly code = 'request-timeout';
  readonly status = 408;
  readonly errorName = 'request_timeout';
  constructor(fn: string, wallMs: number) {
    super(`the request body for function "${fn}" did not arrive within its wall-clock limit of ${wallMs} ms`);
  }
}

/** Tenant code that cannot be bundled or loaded; `diagnostics` name file and line. */
export class BundleError extends IsletError {
  readonly code = 'bad-code';
  readonly status = 400;
  readonly errorName = 'bad_code';
  readonly diagnostics: string[];
  /** The source files the diagnostics point at (absolute), for a watcher waiting for the fix. */
  readonly files: string[];
  /** The limit its top level ran into while loading, if that is why it failed. */
  limit?: 'cpu' | 'memory';
  constructor(message: string, diagnostics: string[] = [], files: string[] = []) {
    super(diagnostics.length ? `${message}\n${diagnostics.join('\n')}` : message);
    this.diagnostics = diagnostics;
    this.files = files;
  }

  /** A load that failed because its top level ran into the CPU or memory limit. */
  static ofLimit(limit: 'cpu' | 'memory', message: string): BundleError {
    const err = new BundleError(message);
    err.limit = limit;
    return err;
  }
}

/** A sandbox could not be started for a reason that is not the tenant's code. */
export class SandboxUnavailableError extends IsletError {
  readonly code = 'unavailable';
  readonly status = 503;
  readonly errorName = 'sandbox_unavailable';
}

/**
 * No room under the live isolate cap: every isolate under it is busy or booting. The scheduler
 * keeps the request queued and boots once one is idle (up to its queue wait), rather than refuse.
 */
export class NoRoomError extends SandboxUnavailableError {}

/** A process, container or VM sandbox died under a request without hitting a limit; the next request starts a new one. */
export class SandboxCrashedError extends IsletError {
  readonly code = 'sandbox-crashed';
  readonly status = 502;
  readonly errorName = 'sandbox_crashed';
}

/** Why admission control refused a request (the `reason` label of islet_shed_total). */
export type ShedReason = 'queue' | 'event-loop-lag' | 'memory' | 'queue-wait';

/** Refused before it reached a sandbox, because the host or this function's queue is full. */
export class OverloadedError extends IsletError {
  readonly code = 'overloaded';
  readonly status = 503;
  readonly errorName = 'overloaded';
  readonly reason: ShedReason;
  override readonly retryAfterS: number;
  constructor(fn: string, reason: ShedReason, retryAfterS: number) {
    super(`function "${fn}" was refused: ${SHED_WHY[reason]}`);
    this.reason = reason;
    this.retryAfterS = retryAfterS;
  }
}

const SHED_WHY: Record<ShedReason, string> = {
  queue: 'too many of its requests are waiting already',
  'event-loop-lag': 'the engine is overloaded (event-loop lag) and this function sends more requests than most',
  memory: 'the engine is short of memory and this function sends more requests than most',
  'queue-wait': 'it waited in the queue for too long',
};

/** The function hit its limits again and again, and is backed off for a while. */
export class QuarantinedError extends IsletError {
  readonly code = 'quarantined';
  readonly status = 503;
  readonly errorName = 'quarantined';
  override readonly retryAfterS: number;
  constructor(fn: string, retryAfterS: number) {
    super(`function "${fn}" hit its limits repeatedly and is quarantined for ${retryAfterS} s`);
    this.retryAfterS = retryAfterS;
  }
}

/**
 * The engine process serving the request died before answering (the supervisor starts a new
 * one). Nothing says whether the tenant's code ran: a client may retry only what is idempotent.
 */
export class EngineRestartedError extends IsletError {
  readonly code = 'engine-restarted';
  readonly status = 502;
  readonly errorName = 'engine_restarted';
  constructor() {
    super('the engine process serving this request stopped before answering; a new one is starting');
  }
}

/** Bad configuration or flags: reported to the operator, never sent to a client. */
export class ConfigError extends Error {}

/** A deploy overtaken by a later deploy of the same function before it finished loading. */
export class DeploySupersededError extends ConfigError {}

export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The single mapping from an error to what the client sees. `exposeStack` is for `islet dev`:
 * production answers never leak a tenant's stack or a host error's message.
 */
export function errorAnswer(err: unknown, fn: string | undefined, exposeStack: boolean): ErrorAnswer {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'islet-error': 'internal' };
  if (!(err instanceof IsletError)) {
    return { status: 500, headers, body: JSON.stringify({ error: 'internal_error', function: fn ?? null }) };
  }
  headers['islet-error'] = err.code;
  if (err.retryAfterS !== undefined) headers['retry-after'] = String(err.retryAfterS);
  const body: Record<string, unknown> = { error: err.errorName, function: fn ?? null };
  if (err instanceof TenantExceptionError) {
    if (exposeStack) body.stack = err.tenantStack;
  } else {
    body.message = err.message;
  }
  if (err instanceof BundleError) body.diagnostics = err.diagnostics;
  return { status: err.status, headers, body: JSON.stringify(body) };
}
