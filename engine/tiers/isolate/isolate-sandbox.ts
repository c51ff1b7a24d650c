// One V8 isolate serving one function: boots the runtime and the tenant module, batches requests
// into it, and turns limit violations into typed errors for every request it was serving.
import { createHash, getRandomValues } from 'node:crypto';
import { domainToASCII } from 'node:url';
import ivm from 'isolated-vm';
import {
  BundleError, CpuLimitError, IsletError, MemoryLimitError, SandboxUnavailableError, TenantExceptionError,
  WallLimitError,
} from '../../errors.ts';
import { EgressError } from '../../egress/index.ts';
import { MAX_TIMERS_PER_ISOLATE } from '../../limits.ts';
import type { WireRequest, WireResponse } from '../../wire.ts';
import type { Sandbox, SandboxSpec, SandboxUsage } from '../tier.ts';
import type { LimitEnforcer, MeteredTask, SandboxMeter } from './limit-enforcer.ts';
import { loadRuntime, type RuntimeEntry } from './runtime-loader.ts';

interface Task extends MeteredTask {
  readonly id: number;
  resolve(response: WireResponse): void;
  reject(err: Error): void;
  /** The response went out; the task stays only while waitUntil work runs. */
  answered: boolean;
}

// Result records from runtime-api/dispatch/dispatch.ts: [id, kind, a, b, c, waitUntilPending].
const RESULT_FIELDS = 6;
const RESULT_EXCEPTION = 1;
const MAX_RANDOM_BLOCK = 65536;
/** How stale a heap reading may be before usage() asks for a fresh one. */
const HEAP_READ_INTERVAL_MS = 1_000;

let nextTaskId = 1;

/**
 * What comes out of an isolate is data the tenant could have shaped (by patching built-ins the
 * runtime relies on), so the host checks its shape before writing it to a socket.
 */
function isWireResponse(r: { status: unknown; headers: unknown; body: unknown }): r is WireResponse {
  return typeof r.status === 'number' && Number.isInteger(r.status) && r.status >= 200 && r.status <= 599
    && Array.isArray(r.headers) && r.headers.length % 2 === 0 && r.headers.every((h) => typeof h === 'string')
    && (r.body === null || typeof r.body === 'string' || r.body instanceof ArrayBuffer);
}

const DIGESTS = new Set(['sha1', 'sha256', 'sha384', 'sha512']);

/** crypto.subtle.digest for the isolate; the arguments come from tenant code, so check them. */
function digest(algorithm: string, data: unknown): ArrayBuffer {
  if (!DIGESTS.has(algorithm) || !(data instanceof ArrayBuffer)) throw new TypeError('digest: unsupported algorithm or data');
  const out = createHash(algorithm).update(new Uint8Array(data)).digest();
  return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength);
}

/** A tenant's stack ends in islet's dispatcher; those frames mean nothing to its author. */
function withoutRuntimeFrames(stack: string): string {
  return stack.split('\n').filter((line) => !line.includes('(islet:runtime:')).join('\n');
}

export class IsolateSandbox implements Sandbox {
  // Set when the sandbox is specialised for a function; a blank sandbox (booted ahead of time
  // for the template pool) has only its isolate, context and runtime.
  #spec!: SandboxSpec;
  #meter: SandboxMeter<Task> | undefined;
  readonly #isolate: ivm.Isolate;
  readonly #fromSnapshot: boolean;
  readonly #tasks = new Map<number, Task>();
  readonly #timers = new Map<number, NodeJS.Timeout>();
  /** Subrequests in progress, by the id the runtime gave them. */
  readonly #subrequests = new Map<number, AbortController>();
  #context: ivm.Context | undefined;
  #runtime: RuntimeEntry | undefined;
  #queue: unknown[] = [];
  #flushScheduled = false;
  #death: IsletError | undefined;
  #retiring: (() => void) | undefined;
  /** The isolate's CPU clock at its last reading (kept once it is disposed), in ns. */
  #cpuNs = 0;
  /** The clock when the last answers came out: CPU since then is shared by the next ones. */
  #cpuAnsweredNs = 0;
  #heapBytes = 0;
  #heapReadAt = -Infinity;
  #heapReading = false;

  private constructor(memoryMb: number, snapshot: ivm.ExternalCopy<ArrayBuffer> | undefined) {
    this.#fromSnapshot = snapshot !== undefined;
    this.#isolate = new ivm.Isolate({
      memoryLimit: memoryMb,
      snapshot,
      // isolated-vm advises ending the process after this; until a supervisor can replace the
      // engine process (issue 7), islet drops the isolate and keeps serving the others.
      onCatastrophicError: (message) => {
        this.#spec?.log.event('error', 'isolate suffered a catastrophic error', { message });
        this.#die(new SandboxUnavailableError(`an isolate was lost: ${message}`));
      },
    });
  }

  /**
   * An isolate with the runtime loaded and no tenant yet, from `snapshot` (the runtime already
   * evaluated) when given, else booted plainly. `specialise` makes it serve a function.
   */
  static async blank(memoryMb: number, snapshot?: ivm.ExternalCopy<ArrayBuffer>): Promise<IsolateSandbox> {
    const sandbox = new IsolateSandbox(memoryMb, snapshot);
    try {
      await sandbox.#bootRuntime();
    } catch (err) {
      sandbox.stop();
      throw err;
    }
    return sandbox;
  }

  /** A blank sandbox specialised for `spec`: what a cold start without a template pool does. */
  static async start(spec: SandboxSpec, enforcer: LimitEnforcer, snapshot?: ivm.ExternalCopy<ArrayBuffer>): Promise<IsolateSandbox> {
    const sandbox = await IsolateSandbox.blank(spec.limits.memoryMb, snapshot);
    await sandbox.specialise(spec, enforcer);
    return sandbox;
  }

  // A field check, not isolate.isDisposed: that is a native call, and this runs twice a request.
  // A disposal islet did not cause is noticed by the next batch or watchdog tick instead.
  get alive(): boolean {
    return this.#death === undefined;
  }

  #readCpuNs(): number {
    if (!this.#isolate.isDisposed) return (this.#cpuNs = Number(this.#isolate.cpuTime));
    // isolated-vm disposed it (memory limit) while no call of ours was waiting to notice.
    queueMicrotask(() => this.#die(this.#death ?? this.#deathFromDisposal()));
    return this.#cpuNs;
  }

  get inFlight(): number {
    return this.#tasks.size;
  }

  usage(): SandboxUsage {
    if (this.#isolate.isDisposed) return { cpuNs: this.#cpuNs, heapBytes: 0 };
    // Heap statistics need the isolate's lock, which a tenant spinning in a loop holds: read them
    // asynchronously and answer with the last reading (at most HEAP_READ_INTERVAL_MS old, or the
    // previous call's). The CPU clock needs no lock.
    const now = performance.now();
    if (!this.#heapReading && now - this.#heapReadAt > HEAP_READ_INTERVAL_MS) {
      this.#heapReadAt = now;
      this.#heapReading = true;
      this.#isolate.getHeapStatistics().then(
        (heap) => {
          this.#heapBytes = heap.used_heap_size + heap.externally_allocated_size;
          this.#heapReading = false;
        },
        () => {
          this.#heapReading = false;
        },
      );
    }
    return { cpuNs: this.#readCpuNs(), heapBytes: this.#heapBytes };
  }

  async #bootRuntime(): Promise<void> {
    const context = await this.#isolate.createContext();
    const runtime = await loadRuntime(this.#isolate, context, this.#fromSnapshot);
    await runtime.init.apply(undefined, [
      new ivm.Callback((level: string, message: string) => this.#spec?.log.console(String(level), String(message)), { ignored: true }),
      new ivm.Callback((length: number) => this.#randomBytes(length)),
      new ivm.Callback((id: number, delayMs: number) => this.#setTimer(id, delayMs), { ignored: true }),
      new ivm.Callback((id: number) => this.#clearTimer(id), { ignored: true }),
      new ivm.Callback((results: unknown[]) => this.#onResults(results), { ignored: true }),
      new ivm.Callback((id: number) => this.#onTaskDone(id), { ignored: true }),
      new ivm.Callback((domain: string) => domainToASCII(String(domain)) || null),
      new ivm.Callback(
        (id: number, method: string, url: string, headers: unknown, body: unknown, redirect: string) => this.#startFetch(id, method, url, headers, body, redirect),
        { ignored: true },
      ),
      new ivm.Callback((id: number) => this.#abortFetch(id), { ignored: true }),
      new ivm.Callback((algorithm: string, data: unknown) => digest(algorithm, data)),
      MAX_TIMERS_PER_ISOLATE,
    ]);
    this.#context = context;
    this.#runtime = runtime;
  }

  /** Loads the tenant's module into this blank sandbox; throws BundleError if it does not load. */
  async specialise(spec: SandboxSpec, enforcer: LimitEnforcer): Promise<void> {
    if (this.#spec) throw new Error('a sandbox is specialised once');
    this.#spec = spec;
    this.#meter = enforcer.meter<Task>(spec.limits.cpuMs, {
      readCpuNs: () => this.#readCpuNs(),
      onCpuLimit: () => this.#die(new CpuLimitError(spec.name, spec.limits.cpuMs)),
      onWallLimit: (task) => this.#onWallLimit(task),
    });
    const { name, limits } = spec;
    const context = this.#context!;
    const runtime = this.#runtime!;
    try {
      const module = await this.#isolate.compileModule(spec.code, { filename: `file:///${name}.js` });
      await module.instantiate(context, (specifier) => {
        throw new Error(`cannot import "${specifier}": the function must be one bundled module`);
      });
      await module.evaluate({ timeout: limits.startupCpuMs });
      await runtime.setTenant.apply(undefined, [module.namespace.derefInto(), new ivm.ExternalCopy(spec.env).copyInto()]);
      this.#cpuAnsweredNs = this.#readCpuNs();
    } catch (err) {
      if (this.#isolate.isDisposed) {
        this.stop();
        throw new BundleError(`function "${name}" exceeded its memory limit of ${limits.memoryMb} MB while loading`);
      }
      const message = err instanceof Error ? err.message : String(err);
      const raw = err instanceof Error && err.stack ? (spec.mapStack?.(err.stack) ?? err.stack) : '';
      const stack = raw ? raw.split('\n').filter((l) => !l.includes('node:') && !l.includes('/engine/')) : [];
      this.stop();
      throw new BundleError(`function "${name}" failed to load: ${message}`, stack.slice(1));
    }
  }

  /** A unit of work the limits apply to (a request, or a scheduled run), registered and metered. */
  #startTask(resolve: Task['resolve'], reject: Task['reject']): Task {
    const task: Task = {
      id: nextTaskId++,
      resolve,
      reject,
      cpuNs: 0,
      deadline: performance.now() + this.#spec.limits.wallMs,
      answered: false,
    };
    this.#tasks.set(task.id, task);
    this.#meter!.start(task);
    return task;
  }

  invoke(request: WireRequest): Promise<WireResponse> {
    if (!this.alive) return Promise.reject(this.#death!);
    return new Promise<WireResponse>((resolve, reject) => {
      const task = this.#startTask(resolve, reject);
      this.#queue.push(task.id, request.method, request.url, request.headers, request.body);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // setImmediate runs after the poll phase: every request parsed in this loop turn joins.
        setImmediate(this.#flush);
      }
    });
  }

  /** Runs the function's scheduled handler, under the same CPU and wall-clock limits as a request. */
  scheduled(cron: string, scheduledTime: number): Promise<void> {
    if (!this.alive) return Promise.reject(this.#death!);
    return new Promise<void>((resolve, reject) => {
      const task = this.#startTask(() => resolve(), reject);
      this.#runtime!.runScheduled.apply(undefined, [cron, scheduledTime], { result: { copy: true, promise: true } }).then(
        (result) => {
          if (!this.#tasks.has(task.id)) return;
          const [name, message, stack] = result as unknown as string[];
          if (name === undefined) task.resolve(undefined as never);
          else task.reject(new TenantExceptionError(this.#spec.name, name, message ?? '', this.#spec.mapStack?.(stack ?? '') ?? stack ?? ''));
          task.answered = true;
          this.#finish(task);
        },
        (err: unknown) => {
          if (this.#isolate.isDisposed) return this.#die(this.#death ?? this.#deathFromDisposal(err));
          if (!this.#tasks.has(task.id)) return;
          task.reject(err instanceof Error ? err : new Error(String(err)));
          this.#finish(task);
        },
      );
    });
  }

  #flush = (): void => {
    this.#flushScheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (!this.alive) return;
    this.#runtime!.dispatchBatch
      .apply(undefined, [batch], { arguments: { copy: true }, result: { copy: true, promise: true } })
      .then((results) => this.#onResults(results as unknown as unknown[]), (err: unknown) => this.#onBatchFailed(err, batch));
  };

  #onResults = (results: unknown[]): void => {
    // One clock read per batch, not per request: the batch's answers share the CPU used since the
    // last answers came out (the figure in the request log; limits are metered separately). The
    // clock of a running isolate can read ahead and then step back (see README), hence the floor.
    const cpuNs = this.#readCpuNs();
    const cpuShareNs = Math.max(0, cpuNs - this.#cpuAnsweredNs) / (results.length / RESULT_FIELDS);
    this.#cpuAnsweredNs = cpuNs;
    for (let i = 0; i < results.length; i += RESULT_FIELDS) {
      const task = this.#tasks.get(results[i] as number);
      if (!task || task.answered) continue;
      const waitUntilPending = results[i + 5] === true;
      if (results[i + 1] === RESULT_EXCEPTION) {
        const [name, message, stack] = [String(results[i + 2]), String(results[i + 3]), String(results[i + 4])];
        // An ArrayBuffer allocation refused for lack of memory surfaces as a RangeError inside
        // the tenant; when it escapes, treat it as the memory limit it is.
        if (name === 'RangeError' && message === 'Array buffer allocation failed') {
          this.#die(new MemoryLimitError(this.#spec.name, this.#spec.limits.memoryMb));
          return;
        }
        const mapped = this.#spec.mapStack?.(withoutRuntimeFrames(stack)) ?? withoutRuntimeFrames(stack);
        task.reject(new TenantExceptionError(this.#spec.name, name, message, mapped));
      } else {
        const response = { status: results[i + 2], headers: results[i + 3], body: results[i + 4], cpuNs: cpuShareNs };
        if (isWireResponse(response)) task.resolve(response);
        else task.reject(new TenantExceptionError(this.#spec.name, 'TypeError', 'the runtime produced a malformed response (was it tampered with?)', ''));
      }
      task.answered = true;
      if (!waitUntilPending) this.#finish(task);
    }
  };

  #onBatchFailed(err: unknown, batch: unknown[]): void {
    if (this.#isolate.isDisposed) {
      this.#die(this.#death ?? this.#deathFromDisposal(err));
      return;
    }
    // The runtime itself failed (a host bug, not the tenant's): fail just this batch.
    this.#spec.log.event('error', 'dispatch failed', { error: String(err) });
    for (let i = 0; i < batch.length; i += 5) {
      const task = this.#tasks.get(batch[i] as number);
      if (!task) continue;
      task.reject(err instanceof Error ? err : new Error(String(err)));
      this.#finish(task);
    }
  }

  #deathFromDisposal(err?: unknown): IsletError {
    const message = err instanceof Error ? err.message : '';
    if (message.includes('memory limit') || this.#isolate.isDisposed) {
      return new MemoryLimitError(this.#spec.name, this.#spec.limits.memoryMb);
    }
    return new SandboxUnavailableError(`function "${this.#spec.name}" has no running isolate`);
  }

  #onTaskDone(id: number): void {
    const task = this.#tasks.get(id);
    if (task) this.#finish(task);
  }

  #finish(task: Task): void {
    this.#tasks.delete(task.id);
    this.#meter!.end(task);
    if (this.#retiring && this.#tasks.size === 0) this.#retiring();
  }

  #onWallLimit(task: Task): void {
    if (!task.answered) task.reject(new WallLimitError(this.#spec.name, this.#spec.limits.wallMs));
    else this.#spec.log.event('warn', 'waitUntil work cut off at the wall-clock limit', { wallMs: this.#spec.limits.wallMs });
    task.answered = true;
    this.#finish(task);
  }

  /** A subrequest from the tenant's fetch(): the values come from the isolate, so check them. */
  #startFetch(id: number, method: string, url: string, headers: unknown, body: unknown, redirect: string): void {
    if (!this.alive || !this.#spec || this.#subrequests.has(id)) return;
    const flat = Array.isArray(headers) ? headers.map(String) : [];
    const mode = redirect === 'manual' || redirect === 'error' ? redirect : 'follow';
    const cancel = new AbortController();
    this.#subrequests.set(id, cancel);
    this.#spec
      .outbound({ method: String(method), url: String(url), headers: flat, body: body instanceof ArrayBuffer ? body : null, redirect: mode }, cancel.signal)
      .then(
        (res) => this.#settleFetch([id, true, res.status, res.statusText, res.headers, res.body, res.urls]),
        (err: unknown) => this.#settleFetch([id, false, 0, err instanceof EgressError ? err.message : 'fetch failed', [], null, []]),
      )
      .finally(() => this.#subrequests.delete(id));
  }

  /** The tenant aborted subrequest `id` (its AbortSignal fired). */
  #abortFetch(id: number): void {
    this.#subrequests.get(id)?.abort();
  }

  #settleFetch(args: unknown[]): void {
    if (!this.alive) return;
    this.#meter?.poke();
    this.#runtime!.settleFetch.applyIgnored(undefined, args, { arguments: { copy: true } });
  }

  #randomBytes(length: number): ArrayBuffer {
    const n = Math.min(Math.max(0, Math.floor(Number(length)) || 0), MAX_RANDOM_BLOCK);
    return getRandomValues(new Uint8Array(n)).buffer;
  }

  #setTimer(id: number, delayMs: number): void {
    if (!this.alive || this.#timers.size >= MAX_TIMERS_PER_ISOLATE) return;
    clearTimeout(this.#timers.get(id));
    const handle = setTimeout(() => {
      this.#timers.delete(id);
      if (!this.alive) return;
      this.#meter?.poke();
      this.#runtime!.fireTimer.applyIgnored(undefined, [id]);
    }, Math.max(0, Number(delayMs) || 0));
    handle.unref();
    this.#timers.set(id, handle);
  }

  #clearTimer(id: number): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  /** Ends the isolate for `reason`: every request it was serving fails with that reason. */
  #die(reason: IsletError, quiet = false): void {
    if (this.#death) return;
    this.#death = reason;
    this.#meter?.stop();
    for (const handle of this.#timers.values()) clearTimeout(handle);
    this.#timers.clear();
    for (const cancel of this.#subrequests.values()) cancel.abort();
    this.#subrequests.clear();
    if (!this.#isolate.isDisposed) this.#isolate.dispose();
    for (const task of this.#tasks.values()) if (!task.answered) task.reject(reason);
    this.#tasks.clear();
    this.#queue = [];
    if (!quiet) this.#spec?.log.event('warn', reason.message, { code: reason.code });
    this.#retiring?.();
  }

  retire(): Promise<void> {
    if (!this.alive || this.#tasks.size === 0) {
      this.stop();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#retiring = () => {
        this.stop();
        resolve();
      };
    });
  }

  stop(): void {
    this.#die(new SandboxUnavailableError(`function "${this.#spec?.name ?? '(none)'}" was stopped`), true);
  }
}
