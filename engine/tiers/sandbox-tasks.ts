// The requests (and scheduled runs) a sandbox is serving, whatever the tier: each is metered for
// CPU and wall clock, answered once, kept until its waitUntil work ends, and failed together when
// the sandbox dies. A retiring sandbox stops once the last one finishes.
import { WallLimitError } from '../errors.ts';
import type { MeteredTask, SandboxMeter } from './isolate/index.ts';
import type { SandboxSpec } from './tier.ts';

export interface SandboxTask extends MeteredTask {
  readonly id: number;
  resolve(value: any): void;
  reject(err: Error): void;
  /** The response went out; the task stays only while waitUntil work runs. */
  answered: boolean;
}

let nextTaskId = 1;

export class SandboxTasks {
  readonly #tasks = new Map<number, SandboxTask>();
  #meter: SandboxMeter<SandboxTask> | undefined;
  #retiring: (() => void) | undefined;

  /** The meter charging the tasks' CPU; set when the sandbox gets its function. */
  set meter(meter: SandboxMeter<SandboxTask>) {
    this.#meter = meter;
  }

  get size(): number {
    return this.#tasks.size;
  }

  get(id: number): SandboxTask | undefined {
    return this.#tasks.get(id);
  }

  start(resolve: SandboxTask['resolve'], reject: SandboxTask['reject'], wallMs: number): SandboxTask {
    const task: SandboxTask = { id: nextTaskId++, resolve, reject, cpuNs: 0, deadline: performance.now() + wallMs, answered: false };
    this.#tasks.set(task.id, task);
    this.#meter!.start(task);
    return task;
  }

  finish(task: SandboxTask): void {
    this.#tasks.delete(task.id);
    this.#meter!.end(task);
    if (this.#retiring && this.#tasks.size === 0) this.#retiring();
  }

  /** The watchdog found `task` past its deadline: it answers 503, or its waitUntil work is cut off. */
  overWallClock(task: SandboxTask, spec: SandboxSpec): void {
    if (!task.answered) task.reject(new WallLimitError(spec.name, spec.limits.wallMs));
    else spec.log.event('warn', 'waitUntil work cut off at the wall-clock limit', { wallMs: spec.limits.wallMs });
    task.answered = true;
    this.finish(task);
  }

  /** The sandbox died for `reason`: every task not answered yet fails with it. */
  failAll(reason: Error): void {
    this.#meter?.stop();
    for (const task of this.#tasks.values()) if (!task.answered) task.reject(reason);
    this.#tasks.clear();
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
