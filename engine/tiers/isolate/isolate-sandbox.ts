// One V8 isolate serving one function: boots the runtime and the tenant module, batches requests
// into it, and turns limit violations into typed errors for every request it was serving.
import { getRandomValues } from 'node:crypto';
import { domainToASCII } from 'node:url';
import ivm from 'isolated-vm';
import {
  boundedError, boundedThrown, BundleError, CpuLimitError, cutText, IsletError, MemoryLimitError, SandboxUnavailableError, TenantExceptionError,
  WallLimitError,
} from '../../errors.ts';
import type { TensorMap } from '../../accel/index.ts';
import { aiFailure, runtimeAiLimits, type WireTensor } from '../../bindings/index.ts';
import { EgressError, ResponseBytes } from '../../egress/index.ts';
import { runCacheOp, type CacheOpResult } from '../../cache/index.ts';
import { IDLE_GC_ALLOWANCE_NS, MAX_CRYPTO_OPS_PER_ISOLATE, MAX_PENDING_SUBREQUESTS, MAX_TIMERS_PER_ISOLATE } from '../../limits.ts';
import { MALFORMED_RESPONSE, splitPseudoFields, wireResponseProblem, type WireRequest, type WireResponse } from '../../wire.ts';
import { MODULE_LOADED_EXPORT } from '../../bundle/index.ts';
import { headerValuesAsBytes, headerValuesAsText, outboundHeaders } from './header-text.ts';
import { LegacyDecoders, legacyEncodingOf } from './legacy-text.ts';
import { Digests } from './digests.ts';
import { LogBudget } from '../log-budget.ts';
import type { Sandbox, SandboxSpec, SandboxUsage } from '../tier.ts';
import { abortOutstanding, SandboxTasks, type SandboxTask, serviceCall } from '../sandbox-tasks.ts';
import type { CodeCache } from '../../warm/index.ts';
import type { LimitEnforcer, SandboxMeter, Turn } from './limit-enforcer.ts';
import { loadRuntime, type RuntimeEntry } from './runtime-loader.ts';
import { runSlots } from './run-slots.ts';
import { LOL_HTML_LOAD_ALLOWANCE_NS, lolHtmlForIsolate, prepareLolHtml } from './lol-html-wasm.ts';
import { ALLOCATION_FAILED, BODY_AFTER_RESPONSE, RequestBody } from '../request-body.ts';
import { SandboxSockets, type SocketEvent } from '../socket-link.ts';
import { StreamedBody } from '../streamed-body.ts';
import { TimerQueue } from './timer-queue.ts';
import { runSubtle } from './web-crypto.ts';
import { UNKNOWN_DEPTH } from '../../../runtime-api/dispatch/chain-depth.ts';

/** A request in this isolate: besides waitUntil work, it lasts while its body streams either way. */
interface Task extends SandboxTask {
  waitUntilPending: boolean;
  /** The response body, while the tenant's stream is still producing it. */
  body: StreamedBody | undefined;
  /** A streamed request body, while the tenant may still read it. */
  requestBody: RequestBody | undefined;
}

// Request records for runtime-api/dispatch/dispatch.ts: [id, method, url, headers, body].
const REQUEST_FIELDS = 5;
// Result records from runtime-api/dispatch/dispatch.ts: [id, kind, a, b, c, waitUntilPending].
const RESULT_FIELDS = 6;
const RESULT_EXCEPTION = 1;
const RESULT_STREAM = 2;
const RESULT_WEBSOCKET = 3;
const MAX_RANDOM_BLOCK = 65536;
/** A load's CPU past its startupCpuMs that is the runtime's own (setting the tenant up), and how often it is looked at. */
const LOAD_CPU_GRACE_MS = 200;
const LOAD_CHECK_MS = 20;
/** How stale a heap reading may be before usage() asks for a fresh one. */
const HEAP_READ_INTERVAL_MS = 1_000;

/** Web Crypto operations one isolate runs on the host's thread pool at once (see #runCrypto). */
const CRYPTO_RUNNING_PER_ISOLATE = 2;

/** settleCrypto's arguments: operation id, whether it succeeded, its result or failure. */
type CryptoSettled = [id: number, ok: boolean, value: unknown];

/**
 * A tenant's stack ends in islet's dispatcher; those frames mean nothing to its author. An error
 * isolated-vm carried out of the isolate goes on past `<isolated-vm boundary>` with the host's own
 * frames (the engine's files, where it is installed), which are no tenant's business either.
 */
function withoutRuntimeFrames(stack: string): string {
  const lines = stack.split('\n');
  const boundary = lines.findIndex((line) => line.includes('<isolated-vm boundary>'));
  // In a console line the stack is only part of it: what was logged after it (the rest of an
  // object holding the error, the next argument) goes on on its last frame's line, and is kept.
  const kept: string[] = [];
  for (const line of boundary === -1 ? lines : lines.slice(0, boundary)) {
    if (!RUNTIME_FRAME.test(line)) {
      kept.push(line);
      continue;
    }
    const rest = line.slice(frameEnd(line));
    if (rest === '') continue;
    if (kept.length) kept[kept.length - 1] += rest;
    else kept.push(rest);
  }
  return kept.join('\n');
}

/**
 * A frame of the runtime: `at name (islet:runtime:…)`, `at islet:runtime:…` or `at async
 * islet:runtime:…` for an anonymous function, or code the runtime evaluated, `at name (eval at
 * other (islet:runtime:…), <anonymous>:3:20)`.
 */
const RUNTIME_FRAME = /^\s*at (?:.*[( ])?islet:runtime:/;

/** Where the frame on `line` ends: after its balanced parentheses, or its bare location. */
function frameEnd(line: string): number {
  const open = line.indexOf('(');
  const bare = /^\s*at (?:async )?islet:runtime:\d+(?::\d+)?/.exec(line);
  if (bare && (open === -1 || open > bare[0].length)) return bare[0].length;
  if (open === -1) return line.length;
  let depth = 0;
  for (let i = open; i < line.length; i++) {
    if (line[i] === '(') depth++;
    else if (line[i] === ')' && --depth === 0) return i + 1;
  }
  return line.length;
}

export class IsolateSandbox implements Sandbox {
  // Set when the sandbox is specialised for a function; a blank sandbox (booted ahead of time
  // for the template pool) has only its isolate, context and runtime.
  #spec!: SandboxSpec;
  #meter: SandboxMeter<Task> | undefined;
  readonly #isolate: ivm.Isolate;
  readonly #fromSnapshot: boolean;
  readonly #tasks = new SandboxTasks<Task>({
    released: (task, remaining) => {
      this.#releaseRequestBody(task);
      this.#subrequestBudget = Math.min(this.#subrequestBudget, remaining * this.#spec.limits.maxSubrequests);
      // No request left that could still take a socket it opened: one never accepted closes.
      if (remaining === 0) {
        this.#sockets.closeUnread();
        abortOutstanding(this.#subrequests, this.#aiCalls, this.#sockets.size);
      }
      this.#spec.onRoom?.();
    },
    cutShort: (task, reason) => {
      if (!task.body?.open) return false;
      if (reason instanceof WallLimitError) {
        this.#spec.log.event('warn', 'response body stream cut off at the wall-clock limit', { wallMs: this.#spec.limits.wallMs });
      }
      task.body.fail(reason);
      return true;
    },
  });
  readonly #timers = new TimerQueue(() => this.#fireTimer());
  readonly #legacyDecoders = new LegacyDecoders();
  readonly #digests = new Digests();
  /** Subrequest response bytes the host holds for this isolate: at most its memory limit's worth. */
  #responseBytes = new ResponseBytes(0);
  /** The limit on console lines that holds (the runtime's own runs in the tenant's realm). */
  readonly #logBudget = new LogBudget();
  /** While a module bundle's top level runs on (after a top-level await). */
  #loading = false;
  /** What that top level left uncaught meanwhile: the module failed. */
  #loadFailure: unknown;
  /** Subrequests in progress, by the id the runtime gave them. */
  readonly #subrequests = new Map<number, AbortController>();
  /**
   * Subrequests the requests in flight may still make. The host cannot tell which of several
   * interleaved requests called fetch() after an await, so their allowances are pooled: exact
   * when requests do not overlap, and never more than maxSubrequests per request in flight.
   */
  #subrequestBudget = 0;
  /** crypto.subtle operations running on the host's thread pool, and those waiting for a turn. */
  #cryptoRunning = 0;
  readonly #cryptoWaiting: (() => Promise<void>)[] = [];
  /** AI calls in progress, by the id the runtime gave them. */
  readonly #aiCalls = new Map<number, AbortController>();
  /** Open WebSockets: events go in one at a time, each a turn of its own under cpuMs (#socketEvent). */
  // The last socket closing with no request left: what was left outstanding for the sockets'
  // sake (abortOutstanding spares it while any is open) is no one's now.
  readonly #sockets = new SandboxSockets((event) => this.#socketEvent(event), () => this.alive, () => {
    if (this.#tasks.size === 0) abortOutstanding(this.#subrequests, this.#aiCalls, 0);
  });
  #context: ivm.Context | undefined;
  #runtime: RuntimeEntry | undefined;
  /**
   * The requests waiting for the next call into the isolate, all #queueDepth service-binding
   * calls deep; batches closed because a request of another depth came, in arrival order. A batch
   * is of one depth because the runtime charges the service calls made while it runs to that
   * depth (runtime-api/dispatch/chain-depth.ts): its requests' microtasks interleave.
   */
  #queue: unknown[] = [];
  #queueDepth = 0;
  #closedBatches: { batch: unknown[]; depth: number }[] = [];
  #flushScheduled = false;
  /** The last task id a batch took in; tasks whose client left while still queued. */
  #dispatchedUpTo = 0;
  #leftBeforeDispatch: Task[] = [];
  /** Batches sent, and the last whose answers came back (the runtime keeps them until then). */
  #batchSeq = 0;
  #settledSeq = 0;
  #death: IsletError | undefined;
  /** The isolate's CPU clock at its last reading (kept once it is disposed), in ns. */
  #cpuNs = 0;
  /** The clock when the last answers came out: CPU since then is shared by the next ones. */
  #cpuAnsweredNs = 0;
  #heapBytes = 0;
  #heapReadAt = -Infinity;
  #heapReading = false;
  /** An idle collection ran and nothing has run in the isolate since. */
  #reclaimed = false;
  #reclaiming = false;
  /** The isolate's memory limit (its WebAssembly memories are bounded to it too: webassembly.ts). */
  readonly #memoryMb: number;

  private constructor(memoryMb: number, snapshot: ivm.ExternalCopy<ArrayBuffer> | undefined) {
    this.#fromSnapshot = snapshot !== undefined;
    this.#memoryMb = memoryMb;
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
   *
   * `rehearse`, for an isolate booted ahead of need (a template): one throwaway request through
   * the runtime's dispatch path first. The snapshot holds that path's compiled code, but a new
   * context starts with empty inline caches, and filling them made a fresh isolate's first
   * request ~0.14 ms slower than its second (README, Cold starts). Done before any tenant code is
   * loaded, with a handler of the runtime's own: nothing of it is visible to the tenant.
   */
  static async blank(memoryMb: number, snapshot?: ivm.ExternalCopy<ArrayBuffer>, rehearse = false): Promise<IsolateSandbox> {
    const sandbox = new IsolateSandbox(memoryMb, snapshot);
    try {
      await sandbox.#bootRuntime();
      if (rehearse) await sandbox.#runtime!.warmup.apply(undefined, []);
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
    // isolated-vm disposes an isolate past its memory limit on its own thread, at any moment (a
    // check of isDisposed before the read would race it): the read itself tells.
    try {
      return (this.#cpuNs = Number(this.#isolate.cpuTime));
    } catch {
      // Disposed while no call of ours was waiting to notice.
      queueMicrotask(() => this.#die(this.#death ?? this.#deathFromDisposal()));
      return this.#cpuNs;
    }
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
      const done = () => {
        this.#heapReading = false;
      };
      try {
        this.#isolate.getHeapStatistics().then((heap) => {
          this.#heapBytes = heap.used_heap_size + heap.externally_allocated_size;
          done();
        }, done);
      } catch {
        done(); // disposed since the check above
      }
    }
    return { cpuNs: this.#readCpuNs(), heapBytes: this.#heapBytes };
  }

  async #bootRuntime(): Promise<void> {
    // Built once per process, beside the first boot: the isolate's call for it is synchronous.
    const lolHtmlReady = prepareLolHtml();
    const context = await this.#isolate.createContext();
    const runtime = await loadRuntime(this.#isolate, context, this.#fromSnapshot);
    await runtime.init.apply(undefined, [
      new ivm.Callback((level: string, message: string) => this.#console(String(level), String(message)), { ignored: true }),
      new ivm.Callback((length: number) => this.#charged(() => this.#randomBytes(length))),
      new ivm.Callback((id: number, delayMs: number, setAt: number) => this.#setTimer(id, delayMs, setAt), { ignored: true }),
      new ivm.Callback((id: number) => this.#timers.clear(Number(id)), { ignored: true }),
      new ivm.Callback((results: unknown[]) => this.#onResults(results), { ignored: true }),
      new ivm.Callback((id: number) => this.#onTaskDone(id), { ignored: true }),
      new ivm.Callback((domain: string) => this.#charged(() => domainToASCII(String(domain)) || null)),
      new ivm.Callback(
        (id: number, method: string, url: string, headers: unknown, body: unknown, redirect: string, service: unknown, depth: unknown) =>
          this.#startFetch(id, method, url, headers, body, redirect, service, depth),
        { ignored: true },
      ),
      new ivm.Callback((id: number) => this.#abortFetch(id), { ignored: true }),
      new ivm.Callback((algorithm: unknown, data: unknown, stream: unknown, end: unknown) => this.#charged(() => this.#digests.update(algorithm, data, stream, end))),
      new ivm.Callback((id: number, op: string, args: unknown) => this.#startCrypto(id, op, args), { ignored: true }),
      new ivm.Callback((id: number, chunk: unknown, error: unknown) => this.#onStreamChunk(id, chunk, error), { ignored: true }),
      new ivm.Callback((id: number) => this.#pullRequestBody(id), { ignored: true }),
      new ivm.Callback((id: number) => this.#releaseRequestBody(this.#tasks.get(id)), { ignored: true }),
      new ivm.Callback((id: number, model: string, inputs: unknown, timeoutMs: unknown) => this.#startAi(id, model, inputs, timeoutMs), { ignored: true }),
      new ivm.Callback((id: number) => this.#aiCalls.get(id)?.abort(), { ignored: true }),
      new ivm.Callback((label: string) => legacyEncodingOf(label)),
      new ivm.Callback((id: number, encoding: string, bytes: unknown, stream: boolean, fatal: boolean, ignoreBOM: boolean) =>
        this.#charged(() => new ivm.ExternalCopy(this.#legacyDecoders.decode(id, encoding, bytes, stream, fatal, ignoreBOM)).copyInto())),
      new ivm.Callback((id: number, op: unknown, cacheName: unknown, request: unknown, response: unknown, ignoreMethod: unknown) =>
        this.#cacheOp(Number(id), op, cacheName, request, response, ignoreMethod), { ignored: true }),
      // Synchronous, unlike most: the host takes each message (or refuses it) before the tenant's
      // next send, so a tenant sending in a loop cannot pile copies up on the host first.
      new ivm.Callback((id: number, data: unknown) => this.#charged(() => this.#sockets.send(Number(id), data))),
      new ivm.Callback((id: number, code: unknown, reason: unknown) => this.#charged(() => this.#sockets.close(Number(id), code, reason))),
      new ivm.Callback((id: number, socketId: unknown, url: unknown, headers: unknown) => this.#startSocket(id, socketId, url, headers), { ignored: true }),
      new ivm.Callback((id: unknown) => this.#sockets.acceptOutbound(id), { ignored: true }),
      // Loading lol-html for a first HTMLRewriter (compiling and warming ~0.9 MB of WebAssembly,
      // ~50 ms) would take a whole default CPU limit: the runtime brackets it with these two.
      new ivm.Callback(() => {
        this.#meter?.allow(LOL_HTML_LOAD_ALLOWANCE_NS);
        return lolHtmlForIsolate().copyInto();
      }),
      new ivm.Callback(() => this.#meter?.allow(0)),
      MAX_TIMERS_PER_ISOLATE,
      this.#memoryMb,
    ]);
    await lolHtmlReady;
    this.#context = context;
    this.#runtime = runtime;
  }

  /**
   * A synchronous call's work on the host, charged to this sandbox's CPU limit: its thread waits
   * for the answer, so its own clock does not see it (SandboxMeter.chargeHost).
   */
  #charged<R>(work: () => R): R {
    const start = performance.now();
    try {
      return work();
    } finally {
      this.#meter?.chargeHost((performance.now() - start) * 1e6);
    }
  }

  /** Loads the tenant's module into this blank sandbox; throws BundleError if it does not load. */
  async specialise(spec: SandboxSpec, enforcer: LimitEnforcer, codeCache?: CodeCache): Promise<void> {
    if (this.#spec) throw new Error('a sandbox is specialised once');
    this.#spec = spec;
    this.#meter = enforcer.meter<Task>(spec.limits.cpuMs, {
      readCpuNs: () => this.#readCpuNs(),
      onCpuLimit: () => this.#die(new CpuLimitError(spec.name, spec.limits.cpuMs)),
      // Its request.signal aborts too, as when its client leaves: a handler that waits on it (a
      // service binding's callee, whose caller's wall clock it inherits) stops with the chain.
      onWallLimit: (task) => {
        this.#clientLeft(task);
        this.#tasks.overWallClock(task, spec);
      },
      onClientLeft: (task) => this.#clientLeft(task),
    });
    this.#tasks.meter = this.#meter;
    this.#responseBytes = new ResponseBytes(spec.limits.memoryMb * 1024 * 1024);
    const { name, limits } = spec;
    const runtime = this.#runtime!;
    // run()'s and evaluate()'s timeouts stop the top level, but not what runs after it: isolated-vm
    // reading a thrown value's message and stack (a getter that never returns), the runtime reading
    // the exports (a `fetch` getter). A probe's deploy spun a core for ever that way. So the load as
    // a whole is held to its CPU budget on the isolate's clock, past a grace for the runtime's own.
    const loadStartNs = Number(this.#isolate.cpuTime);
    // Set once the top level has run: what fails after it is islet's check of the exports, not
    // something the tenant's code threw.
    let ranTopLevel = false;
    const overrun = setInterval(() => {
      if (this.#isolate.isDisposed) return;
      if ((Number(this.#isolate.cpuTime) - loadStartNs) / 1e6 > limits.startupCpuMs + LOAD_CPU_GRACE_MS) {
        this.#die(new CpuLimitError(name, limits.startupCpuMs), true);
      }
    }, LOAD_CHECK_MS);
    try {
      // A script in service-worker syntax reads its bindings as globals from its first line.
      if (Object.keys(spec.env).length > 0) await runtime.exposeBindings.apply(undefined, [new ivm.ExternalCopy(spec.env).copyInto()]);
      const exported = spec.format === 'script' ? await this.#runScript(spec, codeCache) : await this.#evaluateModule(spec);
      ranTopLevel = true;
      await runtime.setTenant.apply(undefined, [
        exported,
        new ivm.ExternalCopy(spec.env).copyInto(),
        spec.ai?.binding ?? null,
        spec.ai ? new ivm.ExternalCopy(runtimeAiLimits(spec.ai.maxPending)).copyInto() : null,
        spec.services ? new ivm.ExternalCopy(spec.services).copyInto() : null,
      ]);
      this.#cpuAnsweredNs = this.#readCpuNs();
    } catch (thrown) {
      // What the top level threw, copied whole by isolated-vm: cut before it is split and mapped
      // (a probe's 64 MB message of stack-like lines held the event loop 4.9 s).
      const err = boundedError(thrown);
      // Killed by a limit while its top level ran (after a top-level await, on the meter): say which.
      if (this.#death instanceof CpuLimitError) {
        this.stop();
        throw BundleError.ofLimit('cpu', `${this.#death.message} while loading`);
      }
      if (this.#isolate.isDisposed) {
        this.stop();
        throw BundleError.ofLimit('memory', `function "${name}" exceeded its memory limit of ${limits.memoryMb} MB while loading`);
      }
      const message = err instanceof Error ? err.message : String(err);
      this.stop();
      // isolated-vm's words for the run's timeout say nothing of which limit it was.
      if (message === 'Script execution timed out.') {
        throw BundleError.ofLimit('cpu', `function "${name}": its top level ran past its startup CPU limit of ${limits.startupCpuMs} ms (startupCpuMs)`);
      }
      // The tenant's frames only: not the runtime's (setTenant's check), nor the host's, nor the
      // script wrapper's call (it mapped to the module's last line, a frame the code does not have).
      const raw = err instanceof Error && err.stack ? this.#tenantStack(withoutWrapperCall(withoutRuntimeFrames(err.stack), spec)) : '';
      const stack = raw ? raw.split('\n').filter((l) => /^\s+at /.test(l) && !l.includes('node:') && !l.includes('/engine/')) : [];
      // What the top level threw is named as workerd names it ("Uncaught TypeError: …"): the
      // message alone lost its type. isolated-vm keeps a thrown Error's name; anything else
      // thrown reaches the host as its text.
      const uncaught = !ranTopLevel && !LOAD_ERRORS.has(err);
      const headline = !uncaught ? message : thrown instanceof Error ? `Uncaught ${err.name}: ${message}` : `Uncaught ${message}`;
      throw new BundleError(`function "${name}" failed to load: ${headline}`, stack);
    } finally {
      clearInterval(overrun);
    }
  }

  /** Runs a script bundle (compiled from `codeCache` when it holds it); its value is the exports. */
  async #runScript(spec: SandboxSpec, codeCache: CodeCache | undefined): Promise<ivm.Dereference<unknown>> {
    const key = codeCache && spec.codeKey;
    const cachedData = key ? codeCache.get(key) : undefined;
    const script: ivm.Script & ivm.CachedDataResult & { cachedDataRejected?: boolean } = await this.#isolate.compileScript(spec.code, {
      filename: `file:///${spec.name}.js`,
      cachedData,
      // Given cachedData too, isolated-vm makes a new cache only if V8 rejected it: an accepted
      // one is not made, stored and measured again on every cold start.
      produceCachedData: key !== undefined,
    });
    if (key) {
      if (cachedData && script.cachedDataRejected) codeCache.reject(key);
      if (script.cachedData) codeCache.set(key, script.cachedData);
    }
    const exported = await script.run(this.#context!, { timeout: spec.limits.startupCpuMs, reference: true, release: true });
    return exported.derefInto({ release: true });
  }

  /** Links and evaluates a module bundle; its namespace is the exports. */
  async #evaluateModule(spec: SandboxSpec): Promise<ivm.Dereference<unknown>> {
    const module = await this.#isolate.compileModule(spec.code, { filename: `file:///${spec.name}.js` });
    await module.instantiate(this.#context!, (specifier) => {
      throw new Error(`cannot import "${specifier}": the function must be one bundled module`);
    });
    this.#loadFailure = undefined;
    this.#loading = true;
    try {
      await module.evaluate({ timeout: spec.limits.startupCpuMs });
      return await this.#untilLoaded(spec, module);
    } finally {
      this.#loading = false;
    }
  }

  /** Waits for a module's top level to have run to its end (its last statement, the loaded export). */
  async #untilLoaded(spec: SandboxSpec, module: ivm.Module): Promise<ivm.Dereference<unknown>> {
    // With top-level await on the host's work (a timer, crypto.subtle, fetch), evaluation goes on
    // after evaluate() returned: wait for the module's last statement, as long as a request may.
    // Until it ran, reading its export throws (a const not yet initialised); code that did not
    // come from islet's bundler has no such export and is taken as loaded.
    const loaded = () => module.namespace.get(MODULE_LOADED_EXPORT).then(() => true, () => false);
    for (const deadline = performance.now() + spec.limits.wallMs; !(await loaded());) {
      if (!this.alive || this.#isolate.isDisposed) throw loadError('the isolate ended while the module loaded');
      // A top-level await that rejected: the module will never finish, so fail now with its error.
      if (this.#loadFailure !== undefined) throw this.#loadFailure;
      if (performance.now() > deadline) {
        throw loadError(`its top level did not finish within ${spec.limits.wallMs} ms (a top-level await still waiting, or one that failed)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return module.namespace.derefInto();
  }

  /** A unit of work the limits apply to (a request, or a scheduled run), registered and metered. */
  #startTask(resolve: Task['resolve'], reject: Task['reject'], depth?: number, deadline?: number): Task {
    this.#reclaimed = false;
    this.#subrequestBudget += this.#spec.limits.maxSubrequests;
    return this.#tasks.start(resolve, reject, this.#spec.limits.wallMs, depth, { waitUntilPending: false, body: undefined, requestBody: undefined }, deadline);
  }

  invoke(request: WireRequest): Promise<WireResponse> {
    if (!this.alive) return Promise.reject(this.#death!);
    return new Promise<WireResponse>((resolve, reject) => {
      const task = this.#startTask(resolve, reject, request.depth, request.deadline);
      let body: unknown = request.body;
      if (body instanceof ReadableStream) {
        // The isolate gets a marker and pulls the bytes when the tenant reads them.
        task.requestBody = new RequestBody(body as ReadableStream<Uint8Array>);
        body = true;
      }
      if (task.depth !== this.#queueDepth && this.#queue.length > 0) {
        this.#closedBatches.push({ batch: this.#queue, depth: this.#queueDepth });
        this.#queue = [];
      }
      this.#queueDepth = task.depth;
      this.#queue.push(task.id, request.method, request.url, headerValuesAsText(request.headers), body);
      // The watchdog looks at it on each tick (onClientLeft), aborted already or not.
      task.signal = request.signal;
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
          if (!this.#tasks.get(task.id)) return;
          const thrown = result as unknown as string[];
          if (thrown[0] === undefined) task.resolve(undefined as never);
          else {
            // As a request's exception: cut before the stack is split and source-mapped, and
            // without the runtime's frames (`at runScheduled (islet:runtime:…)` showed).
            const [name, message, stack] = boundedThrown(String(thrown[0]), String(thrown[1] ?? ''), String(thrown[2] ?? ''));
            task.reject(new TenantExceptionError(this.#spec.name, name, message, this.#tenantStack(stack)));
          }
          task.answered = true;
          this.#tasks.finish(task);
        },
        (err: unknown) => {
          if (this.#isolate.isDisposed) return this.#die(this.#death ?? this.#deathFromDisposal(err));
          if (!this.#tasks.get(task.id)) return;
          task.reject(boundedError(err));
          this.#tasks.finish(task);
        },
      );
    });
  }

  /**
   * The client of `task`'s request left before its answer was complete: its request.signal aborts
   * in the isolate. One still in the queue is told once its batch has gone in (calls into an
   * isolate run in the order they were made), or the runtime would not know the id yet.
   */
  #clientLeft(task: Task): void {
    if (!this.alive) return;
    if (task.id > this.#dispatchedUpTo) this.#leftBeforeDispatch.push(task);
    else this.#deliver(this.#runtime!.abortRequest, [task.id, task.depth]);
  }

  #flush = (): void => runSlots.run(this.#dispatch);

  // Runs when a thread of isolated-vm's pool is free (run-slots.ts): requests that arrive while
  // the batch waits for one join it.
  // Several batches (of several depths) go in one after another on the same place.
  #dispatch = (): Promise<unknown> | undefined => {
    this.#flushScheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    const closed = this.#closedBatches;
    if (closed.length > 0) this.#closedBatches = [];
    if (!this.alive) return undefined;
    const all = closed.length === 0
      ? this.#send(batch, this.#queueDepth)
      : Promise.all([...closed.map((b) => this.#send(b.batch, b.depth)), this.#send(batch, this.#queueDepth)]);
    if (this.#leftBeforeDispatch.length > 0) {
      for (const task of this.#leftBeforeDispatch) this.#deliver(this.#runtime!.abortRequest, [task.id, task.depth]);
      this.#leftBeforeDispatch = [];
    }
    return all;
  };

  /** One batch into the isolate; the promise settles once its answers are taken (undefined: it failed to go in). */
  #send(batch: unknown[], depth: number): Promise<void> | undefined {
    // An earlier batch of the same turn may have found the isolate gone.
    if (!this.alive) return undefined;
    let call: Promise<unknown>;
    const seq = ++this.#batchSeq;
    try {
      call = this.#runtime!.dispatchBatch.apply(undefined, [batch, seq, this.#settledSeq, depth], { arguments: { copy: true }, result: { copy: true, promise: true } });
    } catch (err) {
      this.#onBatchFailed(err, batch, seq);
      return undefined;
    }
    // Task ids grow in the order requests join the queue: the batch's last is the highest so far.
    if (batch.length > 0) this.#dispatchedUpTo = batch[batch.length - REQUEST_FIELDS] as number;
    return call.then((results) => {
      this.#settledSeq = Math.max(this.#settledSeq, seq);
      this.#onResults(results as unknown as unknown[]);
    }, (err: unknown) => this.#onBatchFailed(err, batch, seq));
  }

  #onResults = (results: unknown[]): void => {
    // One clock read per batch, not per request: the batch's answers share the CPU used since the
    // last answers came out (the figure in the request log; limits are metered separately). The
    // clock of a running isolate can read ahead and then step back (see README), hence the floor.
    const cpuNs = this.#readCpuNs();
    const cpuShareNs = Math.max(0, cpuNs - this.#cpuAnsweredNs) / (results.length / RESULT_FIELDS);
    this.#cpuAnsweredNs = cpuNs;
    for (let i = 0; i < results.length; i += RESULT_FIELDS) {
      const task = this.#tasks.get(results[i] as number);
      const kind = results[i + 1];
      if (!task || task.answered) {
        // A socket answering a request already over (its wall-clock limit, its client gone): no
        // client will have it, so it closes, giving back what it holds.
        if (kind === RESULT_WEBSOCKET) this.#sockets.answer(results[i + 4])?.closed(1006, 'the request was over');
        continue;
      }
      if (kind === RESULT_WEBSOCKET) {
        this.#answerWithSocket(task, results[i + 3], results[i + 4]);
      } else if (kind === RESULT_EXCEPTION) {
        const [name, message, stack] = boundedThrown(String(results[i + 2]), String(results[i + 3]), String(results[i + 4]));
        // An ArrayBuffer allocation refused for lack of memory surfaces as a RangeError inside
        // the tenant; when it escapes, treat it as the memory limit it is.
        if (name === 'RangeError' && message === ALLOCATION_FAILED) {
          this.#die(new MemoryLimitError(this.#spec.name, this.#spec.limits.memoryMb));
          return;
        }
        const mapped = this.#tenantStack(stack);
        task.reject(new TenantExceptionError(this.#spec.name, name, message, mapped));
      } else {
        const [statusText, encodedByTenant, headers] = splitPseudoFields(results[i + 3]);
        const response = { status: results[i + 2], headers: headerValuesAsBytes(headers), body: results[i + 4], cpuNs: cpuShareNs } as WireResponse;
        if (statusText !== undefined) response.statusText = statusText;
        if (encodedByTenant) response.encodedByTenant = true;
        const body: unknown = response.body;
        // A streamed answer's body follows as chunks, the field saying its declared length if it
        // has one; any other is a string or bytes, or none.
        const bodyFits = body === null || (kind === RESULT_STREAM
          ? Number.isSafeInteger(body) && (body as number) >= 0
          : typeof body === 'string' || body instanceof ArrayBuffer);
        const problem = wireResponseProblem(response.status, response.headers, statusText) ?? (bodyFits ? undefined : MALFORMED_RESPONSE);
        if (problem !== undefined) {
          task.reject(new TenantExceptionError(this.#spec.name, 'TypeError', problem, ''));
        } else {
          if (kind === RESULT_STREAM) {
            if (body !== null) response.bodyLength = body as number;
            response.body = this.#streamBody(task, response.bodyLength);
          } else {
            this.#releaseRequestBody(task);
          }
          task.resolve(response);
        }
      }
      task.answered = true;
      task.waitUntilPending = results[i + 5] === true;
      this.#finishIfDone(task);
    }
  };

  /** `task` answered an upgrade with a WebSocketPair end: the runtime knows its other end as `socketId`. */
  #answerWithSocket(task: Task, flatHeaders: unknown, socketId: unknown): void {
    const [, , tenantHeaders] = splitPseudoFields(flatHeaders);
    const headers = headerValuesAsBytes(tenantHeaders);
    const problem = wireResponseProblem(200, headers);
    const link = problem === undefined ? this.#sockets.answer(socketId) : undefined;
    if (!link) {
      task.reject(new TenantExceptionError(this.#spec.name, 'TypeError', problem ?? MALFORMED_RESPONSE, ''));
      return;
    }
    this.#releaseRequestBody(task);
    task.resolve({ status: 101, headers, body: null, webSocket: link });
  }

  /** WebSockets open: the sandbox is not idle while it holds any, though they take no request slot. */
  get held(): number {
    return this.#sockets.size;
  }

  /** The body of `task`'s response as a stream pulled from the isolate chunk by chunk. */
  #streamBody(task: Task, declaredLength: number | undefined): ReadableStream<Uint8Array> {
    const id = task.id;
    task.body = new StreamedBody(declaredLength, {
      pull: () => {
        if (!this.alive) return;
        this.#deliver(this.#runtime!.pullResponseStream, [id, task.depth]);
      },
      // The tenant's cancel() runs in there: through the gate and under the meter, like a pull.
      cancel: () => {
        if (this.alive) this.#deliver(this.#runtime!.cancelResponseStream, [id, task.depth]);
      },
      closed: () => queueMicrotask(() => {
        this.#releaseRequestBody(task);
        this.#finishIfDone(task);
      }),
    });
    return task.body.stream;
  }

  #onStreamChunk(id: number, chunk: unknown, error: unknown): void {
    const body = this.#tasks.get(id)?.body;
    if (!body) return;
    if (chunk !== null && !(chunk instanceof ArrayBuffer)) {
      body.fail(new TypeError('the runtime produced a malformed body chunk'));
      return;
    }
    // Cut as a thrown error's message is: the tenant's text, of any length.
    const why = error === null ? null : cutText(String(error));
    // The tenant's words go into a field of a JSON log line, never raw onto a log stream.
    if (why !== null) this.#spec.log.event('error', 'the response body stream failed midway; the connection is cut', { error: why });
    body.receive(chunk, why);
  }

  /** The tenant reads its streamed request body: send it the next chunk (null at the end). */
  #pullRequestBody(id: number): void {
    const task = this.#tasks.get(id);
    const body = task?.requestBody;
    if (!body) return this.#settleRequestChunk([id, null, BODY_AFTER_RESPONSE, UNKNOWN_DEPTH]);
    const { depth } = task!;
    void body.next().then(([chunk, error]) => this.#settleRequestChunk([id, chunk, error, depth]));
  }

  #settleRequestChunk(args: [id: number, chunk: ArrayBuffer | null, error: string | null, depth: number]): void {
    if (!this.alive) return;
    this.#deliver(this.#runtime!.settleRequestChunk, args, { arguments: { copy: true } }, (err: unknown) => {
      // The chunk could not be copied in: the isolate has no room for it under its memory limit.
      // The tenant's read rejects with the RangeError an allocation of its own would have thrown
      // (uncaught, it is the memory limit), rather than wait for a chunk that never comes; the
      // rest of the body is not read.
      if (args[1] !== null && this.alive && isAllocationFailure(err)) {
        this.#releaseRequestBody(this.#tasks.get(args[0]));
        this.#settleRequestChunk([args[0], null, ALLOCATION_FAILED, args[3]]);
      } else this.#deliveryFailed(err);
    });
  }

  /**
   * The tenant cancelled the body, its whole response went out, or its request ended: the rest is
   * drained, not read into the isolate.
   */
  #releaseRequestBody(task: Task | undefined): void {
    task?.requestBody?.release();
  }

  /** A task ends when its response went out, its waitUntil work settled and its body was sent. */
  #finishIfDone(task: Task): void {
    if (task.answered && !task.waitUntilPending && !task.body?.open) this.#tasks.finish(task);
  }

  #onBatchFailed(thrown: unknown, batch: unknown[], seq: number): void {
    // isolated-vm copied it whole (a floating rejection of a 512 MB string, a probe's): cut first.
    const err = boundedError(thrown);
    if (this.#isolate.isDisposed) {
      this.#die(this.#death ?? this.#deathFromDisposal(err));
      return;
    }
    // isolated-vm fails a call whose task left a promise rejection unhandled, and drops what it
    // returned: the tenant's floating rejection, to be logged as Workers does, while the batch's
    // answers are taken back from the runtime. Requests still running answer later as usual.
    this.#logUncaught(err);
    this.#gated(() => this.#runtime!.answersOf.apply(undefined, [seq], { result: { copy: true } }).then((answers) => {
      this.#settledSeq = Math.max(this.#settledSeq, seq);
      if (Array.isArray(answers)) this.#onResults(answers);
      else this.#failBatch(err, batch);
    }, () => this.#failBatch(err, batch)), () => {});
  }

  /** The runtime itself failed on a batch (a host bug, not the tenant's): fail just this batch. */
  #failBatch(err: unknown, batch: unknown[]): void {
    if (!this.alive) return;
    this.#spec.log.event('error', 'dispatch failed', { error: String(err) });
    for (let i = 0; i < batch.length; i += REQUEST_FIELDS) {
      const task = this.#tasks.get(batch[i] as number);
      if (!task || task.answered) continue;
      task.reject(err instanceof Error ? err : new Error(String(err)));
      this.#tasks.finish(task);
    }
  }

  /**
   * A console line of the tenant's. One that holds a stack (console.log(err), a timer's or a
   * waitUntil's uncaught error) gets it as a thrown one does: mapped to the sources, without the
   * runtime's frames.
   */
  #console(level: string, message: string): void {
    const spec = this.#spec;
    if (!spec) return;
    if (!message.includes('\n    at ')) return this.#logBudget.line(spec.log, level, message);
    this.#logBudget.line(spec.log, level, message, undefined, (kept) => this.#tenantStack(kept));
  }

  /** A stack as its tenant reads it: without the runtime's and the host's frames, mapped to its sources. */
  #tenantStack(stack: string): string {
    const own = withoutRuntimeFrames(stack);
    return this.#spec?.mapStack?.(own) ?? own;
  }

  /** A call into the isolate failed with what the tenant left uncaught: its log shows it. */
  #logUncaught(err: unknown): void {
    const stack = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
    this.#logBudget.line(this.#spec.log, 'error', `Uncaught (in promise) ${stack}`, undefined, (kept) => this.#tenantStack(kept));
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
    if (!task) return;
    task.waitUntilPending = false;
    this.#finishIfDone(task);
  }

  /** A subrequest from the tenant's fetch(): the values come from the isolate, so check them. */
  /** Why subrequest `id` may not start now (the request's budget, the pending bound), if it may not. */
  #subrequestRefusal(): string | undefined {
    if (this.#subrequestBudget <= 0) return `fetch: too many subrequests (a request may make ${this.#spec.limits.maxSubrequests})`;
    // The runtime keeps to this too, but its count runs in the tenant's realm.
    if (this.#subrequests.size >= MAX_PENDING_SUBREQUESTS) return `fetch: more than ${MAX_PENDING_SUBREQUESTS} subrequests are already pending`;
    return undefined;
  }

  #startFetch(id: number, method: string, url: string, headers: unknown, body: unknown, redirect: string, service: unknown, depth: unknown): void {
    if (!this.alive || !this.#spec || this.#subrequests.has(id)) return;
    const refused = this.#subrequestRefusal();
    if (refused !== undefined) return this.#settleFetch([id, false, 0, refused, [], null, []]);
    this.#subrequestBudget--;
    const flat = outboundHeaders(headers);
    const mode = redirect === 'manual' || redirect === 'error' ? redirect : 'follow';
    const cancel = new AbortController();
    this.#subrequests.set(id, cancel);
    this.#spec
      .outbound({ method: String(method), url: String(url), headers: flat, body: body instanceof ArrayBuffer ? body : null, redirect: mode }, cancel.signal, this.#responseBytes, ...serviceCall(service, this.#tasks, depth))
      .then(
        (res) => {
          this.#settleFetch([id, true, res.status, res.statusText, headerValuesAsText(res.headers), res.body, res.urls]);
          // Copied into the isolate (or dropped with it): the host holds it no more.
          this.#responseBytes.release(res.body?.byteLength ?? 0);
        },
        (err: unknown) => this.#settleFetch([id, false, 0, err instanceof EgressError ? err.message : 'fetch failed', [], null, []]),
      )
      .finally(() => this.#subrequests.delete(id));
  }

  /**
   * An outbound WebSocket's handshake (a fetch() with Upgrade, or `new WebSocket`): a subrequest,
   * answered through settleFetch, with `socketId` (the runtime's name for the socket) once the
   * server upgraded and the socket is linked.
   */
  #startSocket(id: number, socketId: unknown, url: unknown, headers: unknown): void {
    if (!this.alive || !this.#spec || this.#subrequests.has(id)) return;
    const connect = this.#spec.outbound.connectSocket;
    // The socket's id is checked (and held) before anything is dialled: a process's runtime can name any.
    const refused = connect === undefined ? 'fetch: this function cannot open WebSockets' : this.#subrequestRefusal() ?? this.#sockets.reserveOutbound(socketId);
    if (refused !== undefined) return this.#settleFetch([id, false, 0, refused, [], null, []]);
    this.#subrequestBudget--;
    const cancel = new AbortController();
    this.#subrequests.set(id, cancel);
    const flat = outboundHeaders(headers);
    const connecting = connect!({ url: String(url), headers: flat }, cancel.signal, this.#responseBytes);
    this.#sockets.handshake(socketId as number, connecting, cancel.signal, () => this.alive)
      .then((answer) => {
        if (answer === undefined) return;
        if ('error' in answer) return this.#settleFetch([id, false, 0, answer.error, [], null, []]);
        const res = answer.response;
        this.#settleFetch([id, true, res.status, res.statusText, headerValuesAsText(res.headers), res.body, res.urls, answer.socketId ?? 0]);
        // Copied into the isolate (or dropped with it): the host holds it no more.
        this.#responseBytes.release(res.body?.byteLength ?? 0);
      })
      .finally(() => this.#subrequests.delete(id));
  }

  /** A Cache API call (caches.default, caches.open): it counts as a subrequest, as in Workers. */
  #cacheOp(id: number, op: unknown, cacheName: unknown, request: unknown, response: unknown, ignoreMethod: unknown): void {
    if (!this.alive || !this.#spec) return;
    let result: CacheOpResult;
    // Asking for the cache's size (once per sandbox, before a put) is no subrequest.
    if (this.#subrequestBudget <= 0 && op !== 'limit') {
      result = { ok: false, message: `too many subrequests (a request may make ${this.#spec.limits.maxSubrequests}, Cache API calls included)` };
    } else {
      if (op !== 'limit') this.#subrequestBudget--;
      result = runCacheOp(this.#spec.cache?.(), op, cacheName, request, response, ignoreMethod);
    }
    this.#deliver(this.#runtime!.settleCache, [id, result.ok, result.ok ? result.value : result.message], { arguments: { copy: true } });
  }

  /** The tenant aborted subrequest `id` (its AbortSignal fired). */
  #abortFetch(id: number): void {
    this.#subrequests.get(id)?.abort();
  }

  #settleFetch(args: unknown[]): void {
    if (!this.alive) return;
    this.#deliver(this.#runtime!.settleFetch, args, { arguments: { copy: true } });
  }

  /** A crypto.subtle operation: the arguments come from the isolate, and web-crypto.ts checks them. */
  #startCrypto(id: number, op: string, args: unknown): void {
    if (!this.alive) return;
    if (this.#cryptoRunning + this.#cryptoWaiting.length >= MAX_CRYPTO_OPS_PER_ISOLATE) {
      this.#settleCrypto([id, false, { name: 'OperationError', message: 'too many crypto.subtle operations at once' }]);
      return;
    }
    this.#cryptoWaiting.push(() => runSubtle(String(op), args)
      .then((value): CryptoSettled => [id, true, value], (failure: unknown): CryptoSettled => [id, false, failure])
      .then((settled) => {
        this.#cryptoRunning--;
        this.#settleCrypto(settled);
        this.#runCrypto();
      }));
    this.#runCrypto();
  }

  /**
   * Web Crypto work runs on Node's thread pool, which every tenant (and the engine's zlib) shares
   * and no tenant's CPU clock sees: one isolate runs at most CRYPTO_RUNNING_PER_ISOLATE operations
   * at once, its others wait here, so a tenant's burst of PBKDF2 cannot hold every pool thread.
   */
  #runCrypto(): void {
    while (this.#cryptoRunning < CRYPTO_RUNNING_PER_ISOLATE && this.#cryptoWaiting.length > 0 && this.alive) {
      this.#cryptoRunning++;
      void this.#cryptoWaiting.shift()!();
    }
  }

  #settleCrypto(args: CryptoSettled): void {
    if (!this.alive) return;
    this.#deliver(this.#runtime!.settleCrypto, args, { arguments: { copy: true } });
  }

  /** env.AI.run from the tenant: `inputs` is what the runtime flattened, checked by the binding. */
  #startAi(id: number, model: string, inputs: unknown, timeoutMs: unknown): void {
    if (!this.alive || !this.#spec?.ai || this.#aiCalls.has(id)) return;
    const cancel = new AbortController();
    this.#aiCalls.set(id, cancel);
    const timeout = typeof timeoutMs === 'number' ? timeoutMs : undefined;
    this.#spec.ai
      .run(String(model), inputs as WireTensor[], timeout, cancel.signal)
      .then(
        (outputs) => this.#settleAi(id, outputs),
        (err: unknown) => this.#settleAi(id, err instanceof Error ? err : new Error(String(err))),
      )
      .finally(() => this.#aiCalls.delete(id));
  }

  /**
   * Answers AI call `id`. Output buffers are moved into the isolate (ExternalCopy transferOut +
   * transferIn), not copied; the names, dtypes and shapes go as one small copied list.
   */
  #settleAi(id: number, result: TensorMap | Error): void {
    if (!this.alive) return;
    if (!(result instanceof Error)) {
      try {
        const entries = Object.entries(result);
        const meta = entries.map(([name, t]) => [name, t.dtype, t.shape, t.data instanceof ArrayBuffer ? null : t.data]);
        // A buffer shared by several outputs is copied for all but its last use, then moved.
        const lastUse = new Map(entries.map(([, t], i) => [t.data, i]));
        const buffers = entries.flatMap(([, t], i) => {
          if (!(t.data instanceof ArrayBuffer)) return [];
          if (lastUse.get(t.data) !== i) return [new ivm.ExternalCopy(t.data).copyInto({ release: true })];
          return [new ivm.ExternalCopy(t.data, { transferOut: true }).copyInto({ release: true, transferIn: true })];
        });
        this.#deliver(this.#runtime!.settleAi, [id, '', '', new ivm.ExternalCopy(meta).copyInto({ release: true }), ...buffers]);
        return;
      } catch (err) {
        result = err instanceof Error ? err : new Error(String(err));
      }
    }
    const { code, message } = aiFailure(result, this.#spec.log);
    const args = [id, code, message, []];
    this.#deliver(this.#runtime!.settleAi, args, { arguments: { copy: true } });
  }

  /**
   * Calls the runtime with work no request is waiting for (a timer, a result, a chunk): the
   * meter watches the isolate until the call has run, so that what it runs stays within cpuMs.
   */
  #deliver(
    runtimeFn: ivm.Reference<(...args: any[]) => unknown>,
    args: unknown[],
    options?: ivm.ReferenceApplyOptions,
    failed: (err: unknown) => void = this.#deliveryFailed,
  ): void {
    const ran = this.#meter?.background() ?? (() => {});
    this.#gated(() => runtimeFn.apply(undefined, args, options).catch(failed), ran);
  }

  /**
   * A delivery fails only when what it ran left a rejection unhandled (a timer callback's, say),
   * or when the isolate died, which the meter and the next call find out.
   */
  #deliveryFailed = (thrown: unknown): void => {
    if (!this.alive || this.#isolate.isDisposed) return;
    const err = boundedError(thrown);
    // While a module loads, what its top level left uncaught is why it failed to load (a
    // rejected top-level await), as an unhandled rejection ends a Node program.
    if (this.#loading) this.#loadFailure ??= err;
    else this.#logUncaught(err);
  };

  /** One WebSocket event into the isolate (SandboxSockets gives them one at a time), metered as a turn of its own. */
  #socketEvent(event: SocketEvent): void {
    let turn: Turn | undefined;
    this.#gated(() => {
      turn = this.#meter?.startTurn();
      const args: [number, number, unknown, number, string] = [event.id, event.kind, event.data ?? null, event.code ?? 0, event.reason ?? ''];
      return this.#runtime!.socketEvent.apply(undefined, args, { arguments: { copy: true } }).catch(this.#deliveryFailed);
    }, () => {
      if (turn) this.#meter?.endTurn(turn);
      this.#sockets.done();
    });
  }


  /**
   * Makes `call` (one call into the isolate) when the gate has a place for it (run-slots.ts);
   * `after` runs once it has run, or when it could not be made: the sandbox died meanwhile, or
   * isolated-vm refused it for an isolate it had disposed, taken in here as the sandbox's death.
   */
  #gated(call: () => Promise<unknown>, after: () => void): void {
    runSlots.run(() => {
      if (!this.alive) {
        after();
        return undefined;
      }
      let made: Promise<unknown>;
      try {
        made = call();
      } catch (err) {
        // Only a disposed isolate refuses a call outright; its requests learn why from #die.
        after();
        if (this.#isolate.isDisposed) this.#die(this.#death ?? this.#deathFromDisposal(err));
        return undefined;
      }
      return made.then(after, after);
    });
  }

  #randomBytes(length: number): ArrayBuffer {
    const n = Math.min(Math.max(0, Math.floor(Number(length)) || 0), MAX_RANDOM_BLOCK);
    return getRandomValues(new Uint8Array(n)).buffer;
  }

  #setTimer(id: number, delayMs: number, setAt: number): void {
    if (!this.alive || this.#timers.size >= MAX_TIMERS_PER_ISOLATE) return;
    this.#timers.set(id, Number(delayMs), Number(setAt));
  }

  /** One of the isolate's timers is due: it runs the earliest due of all it has (runtime-api/host/timers.ts). */
  #fireTimer(): void {
    if (!this.alive) return;
    this.#reclaimed = false;
    this.#deliver(this.#runtime!.fireDueTimer, []);
  }

  /** Ends the isolate for `reason`: every request it was serving fails with that reason. */
  #die(reason: IsletError, quiet = false): void {
    if (this.#death) return;
    this.#death = reason;
    this.#meter?.stop();
    this.#timers.clearAll();
    this.#legacyDecoders.clear();
    this.#digests.clear();
    for (const cancel of this.#subrequests.values()) cancel.abort();
    this.#subrequests.clear();
    for (const cancel of this.#aiCalls.values()) cancel.abort();
    this.#aiCalls.clear();
    this.#sockets.endAll(quiet);
    try {
      this.#isolate.dispose();
    } catch {
      // isolated-vm disposed it already (memory limit).
    }
    this.#queue = [];
    this.#closedBatches = [];
    if (!quiet) {
      this.#spec?.log.event('warn', reason.message, { code: reason.code });
      this.#spec?.onEnded?.(reason);
    }
    this.#tasks.failAll(reason);
  }

  /**
   * A memory-reducing collection while nothing runs in the isolate (no request, no timer), once
   * per idle spell. It runs on the isolate's thread; the meter is held meanwhile, so neither a
   * request that arrives during it nor the next request's CPU figure pays for it, and the next
   * requests do not pay for undoing it either (IDLE_GC_ALLOWANCE_NS).
   */
  reclaim(): boolean {
    if (!this.alive || !this.#meter || this.#reclaimed || this.#reclaiming || this.#tasks.size > 0 || this.#timers.size > 0) return false;
    this.#reclaiming = true;
    this.#meter.hold();
    const done = (): void => {
      this.#reclaiming = false;
      this.#reclaimed = true;
      if (!this.alive) return;
      this.#meter!.release(IDLE_GC_ALLOWANCE_NS);
      this.#cpuAnsweredNs = this.#readCpuNs();
    };
    // Through the gate like every call: a collection holds a pool thread for ~25 ms.
    this.#gated(() => this.#runtime!.collectGarbage.apply(undefined, []), done);
    return true;
  }

  async health(): Promise<boolean> {
    if (!this.alive) return false;
    try {
      return (await this.#context!.eval('1')) === 1;
    } catch {
      return false;
    }
  }

  retire(): Promise<void> {
    if (!this.alive) this.stop();
    return this.#tasks.retire(() => this.stop());
  }

  stop(): void {
    this.#die(new SandboxUnavailableError(`function "${this.#spec?.name ?? '(none)'}" was stopped`), true);
  }
}

/** isolated-vm's failure to copy an ArrayBuffer into an isolate past its memory limit. */
function isAllocationFailure(err: unknown): boolean {
  return err instanceof RangeError && err.message === ALLOCATION_FAILED;
}

/**
 * Why a module did not load, found by the host rather than thrown by the tenant's code: it has no
 * stack worth showing (the host's own frames would reach the deployer as the code's diagnostics).
 */
function loadError(message: string): Error {
  const err = new Error(message);
  err.stack = '';
  LOAD_ERRORS.add(err);
  return err;
}

/** The errors loadError made: the host's words for why a load failed, not what the tenant threw. */
const LOAD_ERRORS = new WeakSet<object>();

/**
 * `stack` without the frame of a script bundle's wrapper call (SCRIPT_WRAPPER's `})()`, the last
 * line of its code), which a stack captured while its top level ran ends with.
 */
function withoutWrapperCall(stack: string, spec: SandboxSpec): string {
  if (spec.format !== 'script') return stack;
  const last = stack.lastIndexOf('\n');
  const frame = /^\s+at (file:\/\/\/[^\s()]+\.js):(\d+):\d+$/.exec(stack.slice(last + 1));
  if (frame?.[1] !== `file:///${spec.name}.js`) return stack;
  const code = spec.code.trimEnd();
  let lines = 1;
  for (let i = code.indexOf('\n'); i !== -1; i = code.indexOf('\n', i + 1)) lines++;
  return Number(frame[2]) === lines ? stack.slice(0, last) : stack;
}
