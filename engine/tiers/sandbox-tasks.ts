// The requests (and scheduled runs) a sandbox is serving, whatever the tier: each is metered for
// CPU and wall clock, answered once, kept until its waitUntil work ends, and failed together when
// the sandbox dies. A retiring sandbox stops once the last one finishes.
import { WallLimitError } from '../errors.ts';
import type { MeteredTask, SandboxMeter } from './isolate/index.ts';
import type { SandboxSpec } from './tier.ts';
import type { Lender } from '../wire.ts';

export interface SandboxTask extends MeteredTask {
  readonly id: number;
  resolve(value: any): void;
  reject(err: Error): void;
  /** The response went out; the task stays only while waitUntil work runs. */
  answered: boolean;
  /** How many service-binding calls deep its request is (0: from a client, or a scheduled run). */
  readonly depth: number;
  /**
   * When the request its chain serves is over (performance.now() ms): its own deadline for a
   * client's request, its callers' for a service binding's call, which passes it on.
   */
  readonly chainDeadline: number;
}

/**
 * How long a service binding's call may outlive the request its chain serves: the caller, over
 * its wall clock first, answers 503 itself rather than with its callee's 503 (a test saw a caller
 * answer 200 with the callee's error when both expired in the same tick). Not added up along a
 * chain: every call in it ends this long after the root at the latest.
 */
const CHAIN_GRACE_MS = 100;

/** What a tier keeps per task besides the common fields, and how it lets go of it. */
export interface TaskHooks<T extends SandboxTask> {
  /** The task left, finished or failed: release what it holds (`remaining` tasks are left). */
  released?(task: T, remaining: number): void;
  /**
   * The task's response went out, but the task was cut short (wall clock, the sandbox's death):
   * return true when the tier dealt with it (a streamed body it fails), false to log it as
   * waitUntil work cut off.
   */
  cutShort?(task: T, reason: Error): boolean;
}

let nextTaskId = 1;

/** Most places a sandbox that cannot tell which request calls lends at once: the deepest chain. */
const MAX_LENT_UNNAMED = 32;

/**
 * A subrequest's service binding, as a sandbox names it, the depth it is charged and who lends
 * it a place (outbound's last three arguments); a network fetch names none and is charged nothing.
 * `claimed` is the depth of the request that made it, when the sandbox's runtime could tell (the
 * isolate tier's, which tenant code cannot change: runtime-api/dispatch/chain-depth.ts; negative
 * when it could not: a WebSocket's event, which holds no place and lends none); else the call is
 * charged the deepest request the sandbox is serving. A process sandbox's runtime shares its
 * process with tenant code, so its word is not taken, and it lends per request over all its calls.
 */
export function serviceCall(service: unknown, tasks: SandboxTasks<any>, claimed?: unknown): [service?: string, depth?: number, lender?: Lender, deadline?: number] {
  if (typeof service !== 'string') return [];
  if (claimed === undefined) return [service, tasks.maxDepth(), tasks.lender(), tasks.latestDeadline()];
  const named = typeof claimed === 'number' && Number.isSafeInteger(claimed) && claimed >= 0;
  return named ? [service, claimed, tasks.lender(claimed), tasks.latestDeadline(claimed)] : [service, tasks.maxDepth(), undefined, tasks.latestDeadline()];
}

/**
 * The sandbox's last task left: what its requests started and left outstanding ends with them, as
 * a request's I/O does on Workers when its context ends. The host cannot tell whose a subrequest
 * (a network fetch, a service-binding call, an outbound WebSocket's handshake, an AI call) is, but
 * with no request left it is no one's, and one could not start now either. An aborted binding
 * call aborts its callee's request.signal, so an unawaited call does not hold the callee until its
 * wallMs. Not while WebSockets are open: their work belongs to no request (a fetch started as the
 * socket was accepted, whose answer goes down it), and each subrequest is bounded on its own.
 */
export function abortOutstanding(subrequests: Map<number, AbortController>, aiCalls: Map<number, AbortController>, openSockets: number): void {
  if (openSockets > 0) return;
  for (const cancel of subrequests.values()) cancel.abort();
  for (const cancel of aiCalls.values()) cancel.abort();
}

export class SandboxTasks<T extends SandboxTask = SandboxTask> {
  readonly #tasks = new Map<number, T>();
  /**
   * Tasks by depth, and the calls lent a place on their behalf (Lender). A task counts until it
   * ends, not when it answers: a streamed body's pull or waitUntil work still calls.
   */
  readonly #atDepth: number[] = [];
  readonly #lentAt: number[] = [];
  /** Calls lent places on behalf of any task (Lender), by depth or not. */
  #lent = 0;
  readonly #hooks: TaskHooks<T>;
  #meter: SandboxMeter<T> | undefined;
  #retiring: (() => void) | undefined;

  constructor(hooks: TaskHooks<T> = {}) {
    this.#hooks = hooks;
  }

  /** The meter charging the tasks' CPU; set when the sandbox gets its function. */
  set meter(meter: SandboxMeter<T>) {
    this.#meter = meter;
  }

  /**
   * The deepest service-binding chain among the tasks: what a service call made now is charged
   * when the host cannot tell which request inside the sandbox made it.
   */
  maxDepth(): number {
    for (let depth = this.#atDepth.length - 1; depth > 0; depth--) if (this.#atDepth[depth]) return depth;
    return 0;
  }

  get size(): number {
    return this.#tasks.size;
  }

  /**
   * Lends the calls of the tasks `depth` deep, about one place per task (see Lender); without a
   * depth (the sandbox cannot tell which task calls: a process sandbox), of all its tasks, one
   * place per task over all it lent, and at most MAX_LENT_UNNAMED: a call lent a place to the
   * same function is one more task there, which would lend the next call one, without end (one
   * request's 32 calls to itself all ran at once). A lender of the deepest tasks only would have
   * every task's calls compete for the one place the deepest needs, and lend nothing once those end.
   */
  lender(depth?: number): Lender {
    if (depth === undefined) {
      return {
        canLend: () => this.#lent < Math.min(this.#tasks.size, MAX_LENT_UNNAMED),
        take: () => this.#lent++,
        giveBack: () => this.#lent--,
      };
    }
    return {
      canLend: () => (this.#lentAt[depth] ?? 0) < (this.#atDepth[depth] ?? 0),
      take: () => {
        this.#lentAt[depth] = (this.#lentAt[depth] ?? 0) + 1;
        this.#lent++;
      },
      giveBack: () => {
        this.#lentAt[depth]!--;
        this.#lent--;
      },
    };
  }

  get(id: number): T | undefined {
    return this.#tasks.get(id);
  }

  /**
   * The latest deadline of the tasks `depth` calls deep (of any, when the depth is not known): what
   * a service-binding call they make inherits. The host cannot tell which task made a call, so it
   * takes the latest that could have; a probe's self-bound function fanning out 6 calls a level
   * kept the engine busy 40 s after its root request had failed, each callee with a fresh wallMs.
   */
  latestDeadline(depth?: number): number {
    let latest = -Infinity;
    let any = -Infinity;
    for (const task of this.#tasks.values()) {
      if (task.chainDeadline > any) any = task.chainDeadline;
      if ((depth === undefined || task.depth === depth) && task.chainDeadline > latest) latest = task.chainDeadline;
    }
    // None at that depth (a timer that fires after its request ended: a probe chained 30 hops
    // that way, 8 s past the root): the latest of any, each of which ends with its own chain. No
    // task at all (a WebSocket's event): no request's chain to end with.
    if (latest === -Infinity) latest = any;
    return latest === -Infinity ? Infinity : latest;
  }

  /**
   * Registers and meters a task `depth` service-binding calls deep, over at `wallMs` or at its
   * callers' `deadline`, whichever comes first; `fields` are the tier's own (see TaskHooks).
   */
  start(resolve: SandboxTask['resolve'], reject: SandboxTask['reject'], wallMs: number, depth = 0, fields?: Omit<T, keyof SandboxTask>, deadline = Infinity): T {
    const own = performance.now() + wallMs;
    const task = {
      id: nextTaskId++, resolve, reject, cpuNs: 0, deadline: Math.min(own, deadline + CHAIN_GRACE_MS), chainDeadline: Math.min(own, deadline),
      answered: false, signal: undefined, depth, ...fields,
    } as T;
    this.#tasks.set(task.id, task);
    this.#atDepth[depth] = (this.#atDepth[depth] ?? 0) + 1;
    this.#meter!.start(task);
    return task;
  }

  finish(task: T): void {
    if (this.#tasks.get(task.id) !== task) return;
    this.#tasks.delete(task.id);
    this.#atDepth[task.depth]!--;
    this.#meter!.end(task);
    this.#hooks.released?.(task, this.#tasks.size);
    if (this.#retiring && this.#tasks.size === 0) this.#retiring();
  }

  /** The watchdog found `task` past its deadline: it answers 503, or its remaining work is cut off. */
  overWallClock(task: T, spec: SandboxSpec): void {
    const limit = new WallLimitError(spec.name, spec.limits.wallMs);
    if (!task.answered) task.reject(limit);
    else if (!this.#hooks.cutShort?.(task, limit)) {
      spec.log.event('warn', 'waitUntil work cut off at the wall-clock limit', { wallMs: spec.limits.wallMs });
    }
    task.answered = true;
    this.finish(task);
  }

  /** The sandbox died for `reason`: every task not answered yet fails with it. */
  failAll(reason: Error): void {
    this.#meter?.stop();
    const tasks = [...this.#tasks.values()];
    this.#tasks.clear();
    this.#atDepth.length = 0;
    for (const task of tasks) {
      if (!task.answered) task.reject(reason);
      else this.#hooks.cutShort?.(task, reason);
      this.#hooks.released?.(task, 0);
    }
    this.#retiring?.();
  }

  /** Resolves once no task is left, then calls `stop` (at once when none is running). */
  retire(stop: () => void): Promise<void> {
    if (this.#tasks.size === 0) {
      stop();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#retiring = () => {
        stop();
        resolve();
      };
    });
  }
}
