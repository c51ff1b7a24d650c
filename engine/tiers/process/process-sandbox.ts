// One function in its own Node process (inside whatever boundary the launcher adds: none, a
// bubblewrap or OCI container, gVisor), speaking the framed protocol over a pipe. A sandbox boots blank (Node
// and the runtime up, Web APIs warmed, no tenant) so a template pool can hold it ready, then is
// specialised: the tenant's bundle goes into its own directory and is loaded. The host meters the
// process's CPU per request, watches its memory, and turns a limit or a crash into a typed error
// for every request it was serving.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import {
  boundedThrown, BundleError, CpuLimitError, IsletError, MemoryLimitError, SandboxCrashedError, SandboxUnavailableError, TenantExceptionError,
  WallLimitError,
} from '../../errors.ts';
import { joinBytes } from '../../../runtime-api/web/bytes.ts';
import { aiFailure, runtimeAiLimits, type WireTensor } from '../../bindings/index.ts';
import { runCacheOp, type CacheOpResult } from '../../cache/index.ts';
import { MAX_SOCKET_MESSAGE_BYTES, SandboxSockets, type SocketEvent } from '../socket-link.ts';
import { EgressError, ResponseBytes } from '../../egress/index.ts';
import { ACCEL_DEFAULTS, MAX_BUFFERED_BODY_BYTES, MAX_PENDING_SUBREQUESTS } from '../../limits.ts';
import { MALFORMED_RESPONSE, wireResponseProblem, type WireRequest, type WireResponse } from '../../wire.ts';
import type { LimitEnforcer, SandboxMeter, Turn } from '../isolate/index.ts';
import { abortOutstanding, SandboxTasks, type SandboxTask, serviceCall } from '../sandbox-tasks.ts';
import { ALLOCATION_FAILED, BODY_AFTER_RESPONSE, RequestBody, type BodyChunk } from '../request-body.ts';
import { StreamedBody } from '../streamed-body.ts';
import type { Sandbox, SandboxSpec } from '../tier.ts';
import type { SandboxCgroup } from './cgroup.ts';
import type { Launcher } from './launcher.ts';
import { LogBudget } from '../log-budget.ts';
import { decodeStrings, encodeFrame, FrameReader, MAX_SANDBOX_HEAD_BYTES, type Frame, type FrameHead } from './protocol.ts';

export interface ProcessLaunch {
  command: string;
  args: string[];
  /** The sandbox's cgroup, when the host has usable cgroups; removed after the process exits. */
  cgroup?: SandboxCgroup;
  /** Memory the sandbox may hold, watched through RSS when there is no cgroup to enforce it. */
  memoryBytes: number;
  /** The sandbox's own directory, removed when it exits. */
  dir: string;
  /** Inside `dir`: the only tenant files the sandbox can read; its bundle goes there. */
  codeDir: string;
  channel: Launcher['channel'];
  cpuClock: Launcher['cpuClock'];
  /** Divides the CPU clock before it is charged (Launcher.cpuSlowdown). */
  cpuSlowdown?: number;
  /** Where the runtime writes the bundle it gets in the load frame, when it cannot read `codeDir` (a VM). */
  codeFile?: string;
  /** How long booting, and then loading the tenant's module, may each take. */
  startTimeoutMs: number;
  /** Runs after the process exited (a container runtime's leftover state), before its cgroup goes. */
  cleanup?: () => Promise<void>;
}

const MAX_STDERR_TAIL = 4096;
const HEALTH_TIMEOUT_MS = 1000;
const PAGE_BYTES = 4096;
// The protocol refuses frames past this: a response larger than the sandbox's memory cannot be
// real, so a bigger length means a corrupted or hostile stream.
const FRAME_SLACK_BYTES = 64 * 1024 * 1024;
/** What may wait in the channel for a sandbox beyond the answers ResponseBytes counts (see #send). */
const UNREAD_SLACK_BYTES = 64 * 1024 * 1024;
const MAX_UNREAD_FRAMES = 65_536;

let nextPingId = 1;

/** Children of `pid`, forked by any of its threads (Go programs such as runsc fork from any). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (child) out.push(Number(child));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/** The process at the bottom of `pid`'s descendants: node itself under sh, bwrap, runc or their inits. */
function leafPid(pid: number): number {
  for (let depth = 0; depth < 8; depth++) {
    const children = childrenOf(pid);
    if (children.length === 0) return pid;
    pid = children[children.length - 1]!;
  }
  return pid;
}

/** Whether `pid` is stopped by a signal or a tracer (state T or t in /proc/<pid>/stat). */
function processStopped(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat[stat.lastIndexOf(')') + 2];
    return state === 'T' || state === 't';
  } catch {
    return false;
  }
}

const CLOCK_TICK_NS = 1e9 / 100;

/** Threads of `pid` that run a VM's virtual CPUs (QEMU names them "CPU 0/TCG", "CPU 0/KVM"). */
function vcpuThreads(pid: number): number[] {
  const tids: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      if (/^CPU \d+\//.test(readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8'))) tids.push(Number(tid));
    }
  } catch {
    // The process ended meanwhile.
  }
  return tids;
}

/** CPU time of the threads `tids` of `pid`, in ns (schedstat's run time). */
function threadsCpuNs(pid: number, tids: readonly number[]): number {
  let ns = 0;
  for (const tid of tids) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  return ns;
}

/** CPU time of every thread of `pid` now (schedstat's run time, ns); a thread that just ended is left out. */
function allThreadsCpuNs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // Ended between the listing and the read.
    }
  }
  return ns;
}

/** CPU time (user + system) of `pid` and every process under it, in ns, at clock-tick resolution. */
function treeCpuNs(pid: number, depth = 0): number {
  let ticks = 0;
  try {
    // Fields after the parenthesised command: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks = Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
  let ns = ticks * CLOCK_TICK_NS;
  if (depth < 8) for (const child of childrenOf(pid)) ns += treeCpuNs(child, depth + 1);
  return ns;
}

function toArrayBuffer(bytes: Uint8Array | null): ArrayBuffer | null {
  if (!bytes) return null;
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
}

interface ProcessTask extends SandboxTask {
  /** A streamed response body, pulled from the sandbox chunk by chunk. */
  body: StreamedBody | undefined;
  /** The runtime said its waitUntil work is still running (a `done` frame ends it). */
  waitUntilPending: boolean;
  /** A streamed request body, while the tenant may still read it ('body-pull' frames). */
  requestBody: RequestBody | undefined;
}

/** Least time a module's load is given, whatever its wallMs: Node's import of it is in there too. */
const LOAD_FLOOR_MS = 2_000;
/** How often a loading module's CPU is read against startupCpuMs. */
const STARTUP_CPU_CHECK_MS = 50;
/** How often the clock of a sandbox with nothing in flight is read. */
const IDLE_CPU_CHECK_MS = 500;
/** CPU between two looks below which a sandbox counts as quiet (its runtime's own GC and timers). */
const IDLE_CPU_NOISE_NS = 5e6;
/** CPU between two looks past which a sandbox with nothing in flight is watched: 5% of a core. */
const IDLE_CPU_BURN_NS = 25e6;

export class ProcessSandbox implements Sandbox {
  // Set when the sandbox is specialised; a blank one has only its process and runtime.
  #spec: SandboxSpec | undefined;
  #meter: SandboxMeter<ProcessTask> | undefined;
  /** Subrequest response bytes the host holds for this sandbox: at most its memory limit's worth. */
  #responseBytes = new ResponseBytes(0);
  /** Looks at the clock of a sandbox with nothing in flight (see IDLE_CPU_CHECK_MS). */
  #idleCheck: NodeJS.Timeout | undefined;
  readonly #launch: ProcessLaunch;
  readonly #child: ChildProcess;
  readonly #channel: Writable;
  readonly #reader: FrameReader;
  readonly #tasks = new SandboxTasks<ProcessTask>({
    released: (task, remaining) => {
      task.requestBody?.release();
      this.#subrequestBudget = Math.min(this.#subrequestBudget, remaining * (this.#spec?.limits.maxSubrequests ?? 0));
      // No request left that could still take a socket it opened: one never accepted closes.
      if (remaining === 0) {
        this.#sockets.closeUnread();
        abortOutstanding(this.#subrequests, this.#aiCalls, this.#sockets.size);
      }
      this.#spec?.onRoom?.();
    },
    cutShort: (task, reason) => {
      if (!task.body?.open) return false;
      if (reason instanceof WallLimitError) {
        this.#spec?.log.event('warn', 'response body stream cut off at the wall-clock limit', { wallMs: this.#spec.limits.wallMs });
      }
      task.body.fail(reason);
      return true;
    },
  });
  /** Subrequests the requests in flight may still make, pooled as in the isolate tier (isolate-sandbox.ts). */
  #subrequestBudget = 0;
  readonly #subrequests = new Map<number, AbortController>();
  /** env.AI calls in flight, by the runtime's id. */
  readonly #aiCalls = new Map<number, AbortController>();
  /** Open WebSockets: events go in one at a time, each a turn under cpuMs until the runtime says 'ws-done'. */
  // The last socket closing with no request left: what was left outstanding for the sockets'
  // sake (abortOutstanding spares it while any is open) is no one's now.
  readonly #sockets = new SandboxSockets((event) => this.#socketEvent(event), () => this.alive, () => {
    if (this.#tasks.size === 0) abortOutstanding(this.#subrequests, this.#aiCalls, 0);
  });
  #socketTurn: Turn | undefined;
  readonly #pings = new Map<number, (ok: boolean) => void>();
  readonly #logBudget = new LogBudget();
  #hostPid = 0;
  /** With cpuClock "all-threads": the most CPU the process's threads have been seen to use, in ns. */
  #cpuFloorNs = 0;
  /** With cpuClock "vcpu-threads": the VM's virtual CPU threads, found once it booted. */
  #vcpus: number[] = [];
  #stderr = '';
  #death: IsletError | undefined;
  /** Resolves once the process has exited and what it leaves behind (cgroup, runtime state) is gone. */
  readonly exited: Promise<void>;
  #onExited!: () => void;
  /** Settles the current step (boot or load) when the runtime answers or the process dies. */
  #onStep: ((err?: Error) => void) | undefined;

  private constructor(launch: ProcessLaunch) {
    this.#launch = launch;
    this.#reader = new FrameReader(launch.memoryBytes + FRAME_SLACK_BYTES, MAX_SANDBOX_HEAD_BYTES);
    this.exited = new Promise((resolve) => (this.#onExited = resolve));
    // A clean environment: nothing of the host's leaks in, and NODE_EXTRA_CA_CERTS and the like
    // do not slow every start.
    const fd3 = launch.channel === 'fd3';
    this.#child = spawn(launch.command, launch.args, {
      env: { ISLET_CHANNEL_FD: fd3 ? '3' : 'stdio' },
      // Its own directory, not the engine's: a process tier tenant's process.abort() had the
      // kernel write its core (600 MB, core_pattern "core") into the engine's working directory
      // where that was writable (/tmp), past the permission model; here it goes with the sandbox.
      cwd: launch.codeDir,
      stdio: fd3 ? ['ignore', 'ignore', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
    });
    this.#channel = (fd3 ? this.#child.stdio[3] : this.#child.stdin) as Writable;
    const incoming = fd3 ? this.#child.stdio[3]! : this.#child.stdout!;
    incoming.on('data', (chunk: Buffer) => this.#onData(chunk));
    incoming.on('error', () => {});
    this.#channel.on('error', () => {});
    this.#child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-MAX_STDERR_TAIL);
    });
    this.#child.on('error', (err) => this.#die(new SandboxUnavailableError(`a sandbox could not be started: ${err.message}`)));
    // 'close', not 'exit': it comes after stderr has been read, which says whether V8 ran out of heap.
    this.#child.on('close', (code, signal) => this.#onExit(code, signal));
  }

  /**
   * Starts the process and waits for its runtime to be ready for a tenant. `onSpawn` learns of
   * the sandbox at once, so that its owner can stop it and wait for its exit even mid-boot.
   */
  static async blank(launch: ProcessLaunch, onSpawn: (sandbox: ProcessSandbox) => void = () => {}): Promise<ProcessSandbox> {
    const sandbox = new ProcessSandbox(launch);
    onSpawn(sandbox);
    await sandbox.#step('boot', () => {});
    sandbox.#hostPid = leafPid(sandbox.#child.pid!);
    if (launch.cpuClock === 'vcpu-threads') sandbox.#vcpus = vcpuThreads(sandbox.#hostPid);
    return sandbox;
  }

  /** Loads the function's bundle (`spec.artifact`); throws BundleError when it does not load. */
  async specialise(spec: SandboxSpec, enforcer: LimitEnforcer): Promise<void> {
    if (this.#spec) throw new Error('a sandbox is specialised once');
    this.#spec = spec;
    this.#meter = enforcer.meter<ProcessTask>(spec.limits.cpuMs, {
      readCpuNs: () => this.#sample(),
      onCpuLimit: () => this.#die(new CpuLimitError(spec.name, spec.limits.cpuMs)),
      // Its request.signal aborts too, as when its client leaves (see IsolateSandbox).
      onWallLimit: (task) => {
        this.#abortRequest(task);
        this.#tasks.overWallClock(task, spec);
        // A sandbox that stopped itself (process.kill(process.pid, 'SIGSTOP')) burns no CPU and
        // answers nothing: every later request waited out its wall-clock limit, and the process
        // held its memory until the engine closed (7 minutes in a probe). Ended instead.
        if (processStopped(this.#hostPid)) this.#die(new SandboxCrashedError(`${this.#who()}: its sandbox stopped itself (SIGSTOP) and was ended`));
      },
      onClientLeft: (task) => this.#abortRequest(task),
    });
    this.#tasks.meter = this.#meter;
    this.#responseBytes = new ResponseBytes(spec.limits.memoryMb * 1024 * 1024);
    const { codeFile } = this.#launch;
    const file = codeFile ?? path.join(this.#launch.codeDir, 'index.mjs');
    if (!codeFile) copyFileSync(spec.artifact!, file);
    const code = codeFile ? readFileSync(spec.artifact!) : null;
    // Its top level is held to what the isolate tier holds it to: startupCpuMs of CPU, and its
    // wall-clock limit for a top-level await; past either it is bad code (400 at deploy), not a
    // sandbox that failed to start (which the fixed start timeout, 15 s, would have said).
    // A function whose code names HTMLRewriter has lol-html compiled while it loads (~30–50 ms),
    // under startupCpuMs rather than a request's limit: the sandbox is told, not made to read it again.
    const htmlRewriter = spec.code.includes('HTMLRewriter');
    const ai = spec.ai && { binding: spec.ai.binding, limits: runtimeAiLimits(spec.ai.maxPending) };
    await this.#step('load', () => this.#send({ t: 'load', file, name: spec.name, env: spec.env, services: spec.services ?? [], ai, htmlRewriter }, code), {
      wallMs: spec.limits.wallMs,
      cpuMs: spec.limits.startupCpuMs,
    });
    // The isolate tier meters a tenant's timers as they fire; here they fire in another process,
    // unseen. So the clock of a loaded sandbox with nothing in flight is looked at now and then:
    // once it burns (more than a quiet process's noise), the watchdog meters what follows against
    // the background budget (cpuMs), as on isolates, and a loop started from a timer after the
    // answer no longer burns a core until the keep-alive unloads the sandbox. A quiet look refills
    // that budget: noise (a VM's idle vCPU, gVisor's Sentry) must not add up to a kill over hours.
    // Only from here: its load is held to startupCpuMs, not to the background budget.
    // A burn is host CPU, not the clock a request is charged: a VM's is divided by its slowdown
    // (10), which made 5% of a core half of one, and a tenant's timer burning 45% of a core in a
    // microVM, in bursts the ticks did not follow, ran for as long as the VM was kept. What a
    // burning look found and the ticks did not charge is charged (look()).
    const slowdown = this.#launch.cpuSlowdown ?? 1;
    let lastCpuNs = this.#sample();
    this.#idleCheck = setInterval(() => {
      const cpuNs = this.#sample();
      const burnt = cpuNs - lastCpuNs;
      lastCpuNs = cpuNs;
      if (burnt * slowdown > IDLE_CPU_BURN_NS) {
        this.#meter?.look(burnt);
        if (this.alive) this.#meter?.poke();
      } else {
        this.#meter?.look(0);
        if (burnt < IDLE_CPU_NOISE_NS) this.#meter?.rest();
      }
    }, IDLE_CPU_CHECK_MS).unref();
  }

  get alive(): boolean {
    return this.#death === undefined;
  }

  get inFlight(): number {
    return this.#tasks.size;
  }

  /**
   * Waits for the runtime to finish `what` (settled by #onStep); on failure the sandbox is stopped.
   * Loading a tenant's module takes `topLevel`, its limits for the module's top level.
   */
  #step(what: 'boot' | 'load', begin: () => void, topLevel?: { wallMs: number; cpuMs: number }): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // A module's load is Node's import as well as its top level: a VM's emulated CPU takes
      // seconds for that, so there the start timeout stays the floor.
      const loadFloorMs = this.#launch.cpuClock === 'vcpu-threads' ? this.#launch.startTimeoutMs : LOAD_FLOOR_MS;
      const waitMs = topLevel ? Math.max(topLevel.wallMs, loadFloorMs) : this.#launch.startTimeoutMs;
      const timer = setTimeout(() => {
        this.#onStep?.(topLevel
          ? new BundleError(`${this.#who()} did not finish loading within ${waitMs} ms (its wall-clock limit): a top-level await that does not settle?`)
          : new SandboxUnavailableError(`${this.#who()}: the sandbox did not ${what} within ${waitMs} ms`));
      }, waitMs);
      let cpuWatch: NodeJS.Timeout | undefined;
      if (topLevel) {
        const startNs = this.#sample();
        cpuWatch = setInterval(() => {
          if (this.#sample() - startNs > topLevel.cpuMs * 1e6) {
            this.#onStep?.(BundleError.ofLimit('cpu', `${this.#who()}: its top level ran past its startup CPU limit of ${topLevel.cpuMs} ms (startupCpuMs)`));
          }
        }, STARTUP_CPU_CHECK_MS);
      }
      this.#onStep = (err) => {
        clearTimeout(timer);
        clearInterval(cpuWatch);
        this.#onStep = undefined;
        if (!err) return resolve();
        this.stop();
        reject(err);
      };
      begin();
    });
  }

  #who(): string {
    return this.#spec ? `function "${this.#spec.name}"` : 'a blank sandbox';
  }

  /** `task`'s request.signal aborts in the sandbox. */
  #abortRequest(task: ProcessTask): void {
    this.#send({ t: 'abort', id: task.id });
  }

  /** Writes a frame to the sandbox; `written` runs once the channel has taken it (or cannot). */
  #send(head: FrameHead, body?: Uint8Array | null, written?: () => void): void {
    if (!this.#channel.writable) return written?.();
    // What waits for the sandbox to read is bounded: a sandbox that stopped reading and sent frames
    // each answered (a body-pull for no request) grew the engine 130 MB a second until its heap ran
    // out; past the bound it is ended, as one that broke the protocol. Counted in frames as well as
    // bytes, since each waiting write costs the engine far more than its bytes (a million 150-byte
    // answers held 600 MB). The room in bytes: the answers ResponseBytes counts, some slack, and
    // the requests the host may send a busy sandbox, each with a body of up to
    // MAX_BUFFERED_BODY_BYTES, as many as its concurrency (an honest sandbox busy for 3 s with 220
    // uploads of 1 MB queued was ended before that was in).
    const room = this.#responseBytes.limit + UNREAD_SLACK_BYTES + (this.#spec?.limits.concurrency ?? 0) * MAX_BUFFERED_BODY_BYTES;
    if (this.#unwritten >= MAX_UNREAD_FRAMES || this.#channel.writableLength > room) {
      const waiting = `${this.#unwritten} frames, ${Math.round(this.#channel.writableLength / 1048576)} MB`;
      this.#die(new SandboxCrashedError(`${this.#who()}: its sandbox stopped reading what the host sends (${waiting} waiting for it)`));
      return written?.();
    }
    this.#unwritten++;
    this.#channel.write(encodeFrame(head, body), () => {
      this.#unwritten--;
      written?.();
    });
  }

  /** Frames written to the channel that it has not taken yet. */
  #unwritten = 0;

  /** The watchdog's tick: the sandbox's CPU clock (ns), and its RSS without a cgroup. */
  #sample(): number {
    if (!this.#hostPid) return 0;
    if (this.#launch.cpuClock === 'process-tree') return treeCpuNs(this.#child.pid!);
    if (this.#launch.cpuClock === 'vcpu-threads') {
      try {
        return threadsCpuNs(this.#hostPid, this.#vcpus) / (this.#launch.cpuSlowdown ?? 1);
      } catch {
        return 0;
      }
    }
    try {
      if (!this.#launch.cgroup) {
        const rssPages = Number(readFileSync(`/proc/${this.#hostPid}/statm`, 'utf8').split(' ')[1]);
        if (rssPages * PAGE_BYTES > this.#launch.memoryBytes) {
          queueMicrotask(() => this.#die(new MemoryLimitError(this.#spec!.name, this.#spec!.limits.memoryMb)));
        }
      }
      // Every thread, not node's main one alone: work the tenant hands to Node's thread pool (a
      // PBKDF2 of millions of rounds, zlib) ran past cpuMs uncounted. Kept from going back when
      // a thread exits and its time leaves the sum.
      this.#cpuFloorNs = Math.max(this.#cpuFloorNs, allThreadsCpuNs(this.#hostPid));
      return this.#cpuFloorNs;
    } catch {
      return this.#cpuFloorNs;
    }
  }

  invoke(request: WireRequest): Promise<WireResponse> {
    if (!this.alive) return Promise.reject(this.#death!);
    return new Promise<WireResponse>((resolve, reject) => {
      const task = this.#tasks.start(resolve, reject, this.#spec!.limits.wallMs, request.depth, { body: undefined, waitUntilPending: false, requestBody: undefined }, request.deadline);
      this.#subrequestBudget += this.#spec!.limits.maxSubrequests;
      const head = { t: 'req', id: task.id, method: request.method, url: request.url, headers: request.headers };
      if (request.body instanceof ReadableStream) {
        // A big or chunked body streams: the sandbox asks for each chunk as its tenant reads.
        task.requestBody = new RequestBody(request.body);
        this.#send({ ...head, streamBody: true });
      } else {
        this.#send(head, request.body instanceof ArrayBuffer ? new Uint8Array(request.body) : null);
      }
      // The watchdog looks at it on each tick (onClientLeft), aborted already or not.
      task.signal = request.signal;
    });
  }

  scheduled(cron: string, scheduledTime: number): Promise<void> {
    if (!this.alive) return Promise.reject(this.#death!);
    return new Promise<void>((resolve, reject) => {
      const task = this.#tasks.start(() => resolve(), reject, this.#spec!.limits.wallMs, 0, { body: undefined, waitUntilPending: false, requestBody: undefined });
      this.#subrequestBudget += this.#spec!.limits.maxSubrequests;
      this.#send({ t: 'sched', id: task.id, cron, scheduledTime });
    });
  }

  health(): Promise<boolean> {
    if (!this.alive) return Promise.resolve(false);
    const id = nextPingId++;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => this.#pings.get(id)?.(false), HEALTH_TIMEOUT_MS);
      this.#pings.set(id, (ok) => {
        clearTimeout(timer);
        this.#pings.delete(id);
        resolve(ok);
      });
      this.#send({ t: 'ping', id });
    });
  }

  #onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.#reader.push(chunk);
    } catch (err) {
      this.#die(new SandboxCrashedError(`${this.#who()}: its sandbox broke the protocol (${(err as Error).message})`));
      return;
    }
    // Frames come from a process that runs tenant code, which can write to the channel itself
    // (fs.writeSync on its descriptor): any field may be anything. One that makes handling it
    // throw is a broken protocol, and ends that sandbox, never the engine.
    for (const frame of frames) {
      if (!this.alive) return;
      try {
        this.#onFrame(frame);
      } catch (err) {
        this.#die(new SandboxCrashedError(`${this.#who()}: its sandbox broke the protocol (a malformed ${typeof frame.head?.t === 'string' ? JSON.stringify(frame.head.t.slice(0, 20)) : ''} frame: ${err instanceof Error ? err.message : 'unreadable'})`));
        return;
      }
    }
  }

  #onFrame({ head, body }: Frame): void {
    if (head.t === 'booted' || head.t === 'ready') return this.#onStep?.();
    // Anything else comes from a tenant's module: only once there is one.
    const spec = this.#spec;
    if (!spec) return;
    switch (head.t) {
      case 'load-error': {
        // Cut before it is mapped and split, as a request's exception is.
        const [name, message, stack] = boundedThrown(String(head.name ?? 'Error'), String(head.message), String(head.stack ?? ''));
        const mapped = (spec.mapStack?.(stack) ?? stack).split('\n').filter((l) => /^\s+at /.test(l));
        // What the top level threw is named as the isolate tier (and workerd) name it; islet's
        // check of the exports says why in its own words. A thrown non-Error came described.
        const headline = head.uncaught !== true ? message : message.startsWith('Uncaught ') ? message : `Uncaught ${name}: ${message}`;
        return this.#onStep?.(new BundleError(`function "${spec.name}" failed to load: ${headline}`, mapped));
      }
      case 'res': return this.#onResponse(head, body);
      case 'exc': return this.#onException(head);
      case 'done':
      case 'sched-done': {
        const task = this.#tasks.get(Number(head.id));
        if (!task) return;
        // 'done' ends a request's waitUntil work after its answer; a scheduled run has no answer.
        if (!task.answered && head.t === 'done') throw new Error('a request was done before it was answered');
        if (!task.answered) task.resolve(undefined);
        task.answered = true;
        task.waitUntilPending = false;
        return this.#finishIfDone(task);
      }
      case 'chunk': {
        // The next piece of a streamed body: bytes, or its end, or why the tenant's stream failed.
        // Only ever one the host asked for: more would pile up in the engine's memory.
        const error = head.error === undefined ? null : String(head.error);
        const streamed = this.#tasks.get(Number(head.id))?.body;
        if (streamed && !streamed.receive(head.end === true ? null : (toArrayBuffer(body) ?? new ArrayBuffer(0)), error)) {
          throw new Error('a body chunk nobody asked for');
        }
        return;
      }
      case 'log': {
        // A line holding a stack (console.log(err)) is mapped to the sources, as a thrown one is;
        // one inside an object (console.log({ err })) is indented deeper.
        const message = String(head.message);
        const rewrite = spec.mapStack && /\n +at /.test(message) ? spec.mapStack : undefined;
        return this.#logBudget.line(spec.log, String(head.level), message, undefined, rewrite);
      }
      case 'fetch': return this.#startFetch(head, body);
      case 'ws-connect': return this.#startSocket(head);
      case 'ws-accept': return this.#sockets.acceptOutbound(head.id);
      case 'ws-send': return this.#socketSend(head, body);
      case 'ws-close': return this.#socketClose(head);
      case 'ws-done': return this.#socketDone();
      case 'cache': return this.#cacheOp(head, body);
      case 'ai': return this.#startAi(head, body);
      // One id space for the runtime's subrequests and AI calls (its hostCall).
      case 'fetch-abort': return (this.#subrequests.get(Number(head.id)) ?? this.#aiCalls.get(Number(head.id)))?.abort();
      case 'body-pull': return this.#pullRequestBody(Number(head.id));
      case 'body-cancel': return this.#tasks.get(Number(head.id))?.requestBody?.release();
      case 'pong': return this.#pings.get(Number(head.id))?.(true);
    }
  }

  #onResponse(head: FrameHead, body: Uint8Array | null): void {
    const task = this.#tasks.get(Number(head.id));
    if (!task || task.answered) {
      // A socket answering a request already over: no client will have it, so it closes.
      if (head.webSocket !== undefined) this.#sockets.answer(head.webSocket)?.closed(1006, 'the request was over');
      return;
    }
    // The CPU it used, for the request log (it was null on these tiers): the clock read now. A
    // sandbox found past its limit here dies, and the request with it.
    this.#meter?.settle();
    if (!this.alive || task.answered) return;
    task.answered = true;
    task.waitUntilPending = head.waitUntil === true;
    if (head.webSocket !== undefined) return this.#answerWithSocket(task, head);
    const statusText = typeof head.statusText === 'string' && head.statusText !== '' ? head.statusText : undefined;
    // Fields every answer carries beside its body: a reason phrase, encodeBody 'manual', its CPU.
    const extra = { ...(statusText && { statusText }), ...(head.encoded === true && { encodedByTenant: true }), cpuNs: task.cpuNs };
    // A streamed body's declared length (a FixedLengthStream), which it is held to.
    const declared = head.stream === true && head.length !== undefined ? head.length : undefined;
    const problem = wireResponseProblem(head.status, head.headers, statusText)
      ?? (declared === undefined || (Number.isSafeInteger(declared) && (declared as number) >= 0) ? undefined : MALFORMED_RESPONSE);
    if (problem !== undefined) {
      task.reject(new TenantExceptionError(this.#spec!.name, 'TypeError', problem, ''));
      if (head.stream === true) this.#send({ t: 'cancel', id: task.id });
    } else if (head.stream === true) {
      // A body still being produced (server-sent events, a proxied stream): the head goes out now
      // with what is there, the rest as the socket takes it.
      const bodyLength = declared as number | undefined;
      const stream = this.#streamBody(task, bodyLength);
      if (body && body.byteLength > 0) task.body!.receiveFirst(toArrayBuffer(body)!);
      task.resolve({ status: head.status as number, headers: head.headers as string[], body: stream, ...extra, ...(bodyLength !== undefined && { bodyLength }) });
    } else {
      task.requestBody?.release();
      task.resolve({ status: head.status as number, headers: head.headers as string[], body: head.hasBody ? (toArrayBuffer(body) ?? new ArrayBuffer(0)) : null, ...extra });
    }
    this.#finishIfDone(task);
  }

  /** The tenant reads its streamed request body: send it the next chunk, its end, or why not. */
  #pullRequestBody(id: number): void {
    const body = this.#tasks.get(id)?.requestBody;
    const next: Promise<BodyChunk> = body ? body.next() : Promise.resolve([null, BODY_AFTER_RESPONSE]);
    void next.then(([chunk, error]) => {
      if (error !== null) this.#send({ t: 'body-chunk', id, error });
      else if (chunk === null) this.#send({ t: 'body-chunk', id, end: true });
      else this.#send({ t: 'body-chunk', id }, new Uint8Array(chunk));
    });
  }

  /** The body of `task`'s response as a stream that asks the sandbox for each next chunk. */
  #streamBody(task: ProcessTask, declaredLength: number | undefined): ReadableStream<Uint8Array> {
    const id = task.id;
    task.body = new StreamedBody(declaredLength, {
      pull: () => this.#send({ t: 'pull', id }),
      cancel: () => this.#send({ t: 'cancel', id }),
      closed: () => queueMicrotask(() => {
        task.requestBody?.release();
        this.#finishIfDone(task);
      }),
    });
    return task.body.stream;
  }

  #finishIfDone(task: ProcessTask): void {
    if (task.answered && !task.waitUntilPending && !task.body?.open) this.#tasks.finish(task);
  }

  #onException(head: FrameHead): void {
    const task = this.#tasks.get(Number(head.id));
    if (!task || task.answered) return;
    const [name, message, stack] = boundedThrown(String(head.name), String(head.message), String(head.stack));
    // As in the isolate tier: a refused ArrayBuffer allocation that escapes is the memory limit.
    if (name === 'RangeError' && message === ALLOCATION_FAILED) {
      this.#die(new MemoryLimitError(this.#spec!.name, this.#spec!.limits.memoryMb));
      return;
    }
    task.answered = true;
    task.waitUntilPending = head.waitUntil === true;
    task.reject(new TenantExceptionError(this.#spec!.name, name, message, this.#spec!.mapStack?.(stack) ?? stack));
    this.#finishIfDone(task);
  }

  /** Why a subrequest may not start now (the request's budget, the pending bound), if it may not. */
  #subrequestRefusal(): string | undefined {
    if (this.#subrequestBudget <= 0) return `fetch: too many subrequests (a request may make ${this.#spec!.limits.maxSubrequests})`;
    if (this.#subrequests.size >= MAX_PENDING_SUBREQUESTS) return `fetch: more than ${MAX_PENDING_SUBREQUESTS} subrequests are already pending`;
    return undefined;
  }

  /** A subrequest from the tenant's fetch(): the values come from the sandbox, so check them. */
  #startFetch(head: FrameHead, body: Uint8Array | null): void {
    const id = Number(head.id);
    if (!Number.isInteger(id) || this.#subrequests.has(id) || this.#aiCalls.has(id)) return;
    const refused = this.#subrequestRefusal();
    if (refused !== undefined) return this.#send({ t: 'fetch-res', id, error: refused });
    this.#subrequestBudget--;
    const headers = Array.isArray(head.headers) ? head.headers.map(String) : [];
    const redirect = head.redirect === 'manual' || head.redirect === 'error' ? head.redirect : 'follow';
    const cancel = new AbortController();
    this.#subrequests.set(id, cancel);
    this.#meter!.poke();
    this.#spec!
      .outbound({ method: String(head.method), url: String(head.url), headers, body: toArrayBuffer(body), redirect }, cancel.signal, this.#responseBytes, ...serviceCall(head.service, this.#tasks))
      .then(
        (res) => {
          // Held until the channel has taken it: a sandbox that stops reading leaves it in the
          // host's write buffer, which the budget must go on counting.
          const bytes = res.body?.byteLength ?? 0;
          this.#send({ t: 'fetch-res', id, status: res.status, statusText: res.statusText, headers: res.headers, urls: res.urls }, res.body ? new Uint8Array(res.body) : null, () => this.#responseBytes.release(bytes));
        },
        (err: unknown) => this.#send({ t: 'fetch-res', id, error: err instanceof EgressError ? err.message : 'fetch failed' }),
      )
      .finally(() => this.#subrequests.delete(id));
  }

  /**
   * env.AI.run from the sandbox: `tensors` describes the inputs (strings in the head, numeric ones
   * as `bytes` of the body, one after another), answered 'fetch-res' with `outputs` described the
   * same way, or `aiError`. The fields come from the sandbox, so they are checked; the binding
   * checks the tensors against the model as it does an isolate's.
   */
  #startAi(head: FrameHead, body: Uint8Array | null): void {
    const id = Number(head.id);
    if (!Number.isInteger(id) || this.#aiCalls.has(id) || this.#subrequests.has(id)) return;
    const fail = (code: string, message: string) => this.#send({ t: 'fetch-res', id, aiError: { code, message } });
    const ai = this.#spec!.ai;
    if (!ai) return fail('unknown_model', 'this function has no AI binding');
    const wire = wireTensors(head.tensors, body);
    if (typeof wire === 'string') return fail('bad_input', wire);
    // A sandbox that has not taken earlier answers gets no more run for it: the model's work and
    // the answer's bytes would be thrown away below, after costing the pool and the host's heap.
    if (this.#responseBytes.full) return fail('overloaded', this.#unreadAnswers());
    const cancel = new AbortController();
    this.#aiCalls.set(id, cancel);
    const timeoutMs = typeof head.timeoutMs === 'number' ? head.timeoutMs : undefined;
    ai.run(String(head.model), wire, timeoutMs, cancel.signal)
      .then(
        (outputs) => {
          const entries = Object.entries(outputs);
          const numeric = entries.flatMap(([, t]) => (t.data instanceof ArrayBuffer ? [new Uint8Array(t.data)] : []));
          const described = entries.map(([name, t]) => [name, t.dtype, t.shape, t.data instanceof ArrayBuffer ? null : t.data, t.data instanceof ArrayBuffer ? t.data.byteLength : 0]);
          // Counted until the channel has taken it, as a subrequest's answer is: a sandbox that
          // stops reading would otherwise have the host hold answer after answer (16 MB each).
          const bytes = numeric.reduce((n, b) => n + b.byteLength, 0);
          if (!this.#responseBytes.take(bytes)) return fail('overloaded', this.#unreadAnswers());
          const answer = bytes === 0 ? null : numeric.length === 1 ? numeric[0]! : joinBytes(numeric, bytes);
          this.#send({ t: 'fetch-res', id, outputs: described }, answer, () => this.#responseBytes.release(bytes));
        },
        (err: unknown) => {
          const { code, message } = aiFailure(err, this.#spec!.log);
          fail(code, message);
        },
      )
      .finally(() => this.#aiCalls.delete(id));
  }

  #unreadAnswers(): string {
    return `this function's sandbox has not taken earlier answers (more than ${this.#responseBytes.limit} bytes wait for it)`;
  }

  /**
   * An outbound WebSocket's handshake (a fetch() with Upgrade, or `new WebSocket`), as a
   * subrequest: answered 'fetch-res', with `socket` (the sandbox's id for it) once the server
   * upgraded and the socket is linked. The fields come from the sandbox, so check them.
   */
  #startSocket(head: FrameHead): void {
    const id = Number(head.id);
    if (!Number.isInteger(id) || this.#subrequests.has(id) || this.#aiCalls.has(id)) return;
    const connect = this.#spec!.outbound.connectSocket;
    const socketId = head.socket;
    // The socket's id is checked (and held) before anything is dialled: a process's runtime can name any.
    const refused = connect === undefined ? 'fetch: this function cannot open WebSockets' : this.#subrequestRefusal() ?? this.#sockets.reserveOutbound(socketId);
    if (refused !== undefined) return this.#send({ t: 'fetch-res', id, error: refused });
    this.#subrequestBudget--;
    const headers = Array.isArray(head.headers) ? head.headers.map(String) : [];
    const cancel = new AbortController();
    this.#subrequests.set(id, cancel);
    this.#meter!.poke();
    const connecting = connect!({ url: String(head.url), headers }, cancel.signal, this.#responseBytes);
    this.#sockets.handshake(socketId as number, connecting, cancel.signal, () => this.alive)
      .then((answer) => {
        if (answer === undefined) return;
        if ('error' in answer) return this.#send({ t: 'fetch-res', id, error: answer.error });
        const res = answer.response;
        // Held until the channel has taken it, as a subrequest's body is (#startFetch).
        const bytes = res.body?.byteLength ?? 0;
        this.#send(
          { t: 'fetch-res', id, status: res.status, statusText: res.statusText, headers: res.headers, urls: res.urls, socket: answer.socketId },
          res.body ? new Uint8Array(res.body) : null,
          () => this.#responseBytes.release(bytes),
        );
      })
      .finally(() => this.#subrequests.delete(id));
  }

  /** A Cache API call: it counts as a subrequest, as in Workers; its fields are checked by runCacheOp. */
  #cacheOp(head: FrameHead, body: Uint8Array | null): void {
    const id = Number(head.id);
    if (!Number.isInteger(id)) return;
    let result: CacheOpResult;
    // Asking for the cache's size (once per sandbox, before a put) is no subrequest.
    if (this.#subrequestBudget <= 0 && head.op !== 'limit') {
      result = { ok: false, message: `too many subrequests (a request may make ${this.#spec!.limits.maxSubrequests}, Cache API calls included)` };
    } else {
      if (head.op !== 'limit') this.#subrequestBudget--;
      const response = Array.isArray(head.response) ? [...(head.response as unknown[]), head.hasBody === true ? (body ?? new Uint8Array(0)) : null] : null;
      result = runCacheOp(this.#spec!.cache?.(), head.op, head.cacheName, head.request, response, head.ignoreMethod);
    }
    if (!result.ok) return this.#send({ t: 'cache-res', id, error: result.message });
    const value = result.value;
    if (!Array.isArray(value)) return this.#send({ t: 'cache-res', id, value });
    const [status, statusText, headers, kept] = value;
    // Counted until the channel took it, as a subrequest's answer: a sandbox that stops reading
    // and forges matches for a 30 MB entry had the host hold 1.5 GB of answers per request.
    const bytes = kept?.byteLength ?? 0;
    if (bytes > 0 && !this.#responseBytes.take(bytes)) return this.#send({ t: 'cache-res', id, error: this.#unreadAnswers() });
    this.#send({ t: 'cache-res', id, status, statusText, headers, hasBody: kept !== null }, kept && new Uint8Array(kept), bytes > 0 ? () => this.#responseBytes.release(bytes) : undefined);
  }

  /** `task` answered an upgrade with a WebSocketPair end: the runtime knows its other end as `head.webSocket`. */
  #answerWithSocket(task: ProcessTask, head: FrameHead): void {
    const problem = wireResponseProblem(200, head.headers);
    const link = problem === undefined ? this.#sockets.answer(head.webSocket) : undefined;
    if (!link) {
      task.reject(new TenantExceptionError(this.#spec!.name, 'TypeError', problem ?? MALFORMED_RESPONSE, ''));
    } else {
      task.requestBody?.release();
      task.resolve({ status: 101, headers: head.headers as string[], body: null, webSocket: link });
    }
    this.#finishIfDone(task);
  }

  /** One WebSocket event into the sandbox (SandboxSockets gives them one at a time), a turn until 'ws-done'. */
  #socketEvent(event: SocketEvent): void {
    this.#socketTurn = this.#meter!.startTurn();
    const data = event.data;
    this.#send({ t: 'ws', id: event.id, kind: event.kind, text: typeof data === 'string', code: event.code ?? 0, reason: event.reason ?? '' },
      data === undefined ? null : typeof data === 'string' ? Buffer.from(data) : new Uint8Array(data));
  }

  #socketDone(): void {
    if (this.#socketTurn) this.#meter?.endTurn(this.#socketTurn);
    this.#socketTurn = undefined;
    if (!this.#sockets.done()) throw new Error('a WebSocket event was done that was not given');
  }

  /**
   * The tenant sends on WebSocket `id`. A process's runtime cannot be answered in time to throw,
   * so what the host refuses (over 1 MB) closes the socket instead.
   */
  #socketSend(head: FrameHead, body: Uint8Array | null): void {
    const id = Number(head.id);
    const bytes = body ?? new Uint8Array(0);
    // Measured as bytes first: a forged 100 MB frame is refused without being decoded.
    const data = bytes.byteLength > MAX_SOCKET_MESSAGE_BYTES ? undefined
      : head.text === true ? Buffer.from(bytes).toString('utf8') : toArrayBuffer(bytes) ?? new ArrayBuffer(0);
    if (data === undefined || this.#sockets.send(id, data) !== null) this.#sockets.link(id)?.refuse(1009, 'the function sent a message over 1 MB');
  }

  #socketClose(head: FrameHead): void {
    const id = Number(head.id);
    if (this.#sockets.close(id, head.code, head.reason) !== null) this.#sockets.link(id)?.refuse(1008, 'the function closed with a code or reason it may not');
  }

  /** WebSockets open: the sandbox is not idle while it holds any, though they take no request slot. */
  get held(): number {
    return this.#sockets.size;
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    const memoryMb = this.#spec?.limits.memoryMb ?? 0;
    // Node's own report, or (in a VM, whose console is this stderr) the guest kernel's OOM killer.
    const outOfMemory = this.#launch.cgroup?.oomKilled() || /heap out of memory|Reached heap limit|[Oo]ut of memory: Killed process/.test(this.#stderr);
    const how = signal ?? `code ${code}`;
    const reason = outOfMemory
      ? new MemoryLimitError(this.#spec?.name ?? '', memoryMb)
      : new SandboxCrashedError(`${this.#who()}: its sandbox exited (${how})`);
    if (this.#onStep) {
      const detail = this.#stderr.trim().split('\n').slice(-5);
      if (!this.#spec) this.#onStep(new SandboxUnavailableError(`a sandbox exited while booting (${how}): ${detail.join(' ')}`));
      else if (outOfMemory) this.#onStep(BundleError.ofLimit('memory', `function "${this.#spec.name}" exceeded its memory limit of ${memoryMb} MB while loading`));
      else this.#onStep(new BundleError(`function "${this.#spec.name}" failed to load: its sandbox exited (${how})`, detail));
    }
    this.#die(reason, false, this.#stderr);
    rmSync(this.#launch.dir, { recursive: true, force: true });
    void (async () => {
      await this.#launch.cleanup?.();
      await this.#launch.cgroup?.remove();
    })()
      .catch((err: unknown) => this.#spec?.log.event('warn', 'a sandbox cgroup could not be removed', { error: String(err) }))
      .finally(this.#onExited);
  }

  /** Ends the sandbox for `reason`: every request it was serving fails with that reason. */
  #die(reason: IsletError, quiet = false, stderr = ''): void {
    if (this.#death) return;
    this.#death = reason;
    clearInterval(this.#idleCheck);
    for (const cancel of [...this.#subrequests.values(), ...this.#aiCalls.values()]) cancel.abort();
    this.#subrequests.clear();
    this.#aiCalls.clear();
    for (const ping of this.#pings.values()) ping(false);
    this.#sockets.endAll(quiet);
    this.#channel.destroy();
    // SIGKILL both: the launcher's process (bwrap, which takes its sandbox down with it) and node.
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    if (this.#hostPid && this.#hostPid !== this.#child.pid) {
      try {
        process.kill(this.#hostPid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    if (!quiet) {
      this.#spec?.log.event('warn', reason.message, { code: reason.code, ...(stderr && { stderr: stderr.trim().split('\n').slice(-5).join('\n') }) });
      this.#spec?.onEnded?.(reason);
    }
    this.#tasks.failAll(reason);
  }

  retire(): Promise<void> {
    if (!this.alive) this.stop();
    return this.#tasks.retire(() => this.stop());
  }

  stop(): void {
    this.#die(new SandboxUnavailableError(`${this.#who()} was stopped`), true);
  }
}

const EMPTY = new Uint8Array(0);

/** Most input tensors one AI call may describe (a model takes a handful). */
const MAX_AI_TENSORS = 64;

/** An AI call's inputs from a sandbox's frame, or why they make no sense. */
function wireTensors(described: unknown, body: Uint8Array | null): WireTensor[] | string {
  if (!Array.isArray(described) || described.length > MAX_AI_TENSORS) return `an AI call describes its inputs as a list of at most ${MAX_AI_TENSORS}`;
  const wire: WireTensor[] = [];
  let offset = 0;
  for (const t of described as Record<string, unknown>[]) {
    if (t === null || typeof t !== 'object' || typeof t.name !== 'string' || typeof t.dtype !== 'string') return 'an AI input needs a name and a dtype';
    const shape = t.shape === null ? null : Array.isArray(t.shape) ? t.shape : undefined;
    if (shape === undefined) return `AI input "${t.name}": shape must be a list or null`;
    const bytes = t.bytes;
    if (!Number.isInteger(bytes) || (bytes as number) < 0 || offset + (bytes as number) > (body?.byteLength ?? 0)) return `AI input "${t.name}": its bytes are not in the frame`;
    const piece = (body ?? EMPTY).subarray(offset, offset + (bytes as number));
    offset += bytes as number;
    if (t.dtype === 'string') {
      const strings = decodeStrings(piece, ACCEL_DEFAULTS.maxStrings);
      if (typeof strings === 'string') return `AI input "${t.name}": ${strings}`;
      wire.push({ name: t.name, dtype: t.dtype, shape: shape as number[] | null, data: strings });
      continue;
    }
    // Its own buffer: the body's bytes are the frame reader's (an empty body arrives as null).
    wire.push({ name: t.name, dtype: t.dtype, shape: shape as number[] | null, data: new Uint8Array(piece).buffer as ArrayBuffer });
  }
  return wire;
}
