// CPU and wall-clock limits for isolates, enforced in one place by a watchdog on the host's event
// loop that samples each busy isolate's CPU clock (`isolate.cpuTime`, which advances live while
// the isolate runs on its own thread).
//
// Why a watchdog and not isolated-vm's per-call `timeout`: the timeout only covers the
// synchronous part of a call, not work after an `await`, and arms a timer per call (~16 µs of
// CPU per request under load). The watchdog costs one clock read per busy isolate per tick.
//
// Attribution: CPU an isolate uses during a tick is shared equally by the requests in flight in
// it, so with one request at a time the figure is exact, and a request that runs away alongside
// n others is stopped after at most n × cpuMs. Work while no request is in flight (timers that
// fire after the response) draws on one background budget of cpuMs, refilled when the next
// request starts. Killing means disposing the isolate: the only way to stop a running loop.
//
// Why a tick's charges are scaled to a budget: on Linux, isolated-vm's cpuTime is the thread CPU
// clock for finished stretches of work but the steady (wall) clock for the stretch in progress,
// since it cannot read another thread's CPU clock. On a loaded machine a thread waits for a core
// while that clock runs, and a hello request was charged 50 ms. The isolates' threads belong to
// this process and are not its event-loop thread, so together they cannot have used more CPU in
// a tick than the process used outside that thread (getrusage minus the thread's own clock, both
// exact): when the readings add up to more, each is scaled down to fit. Without contention the
// readings fit and nothing changes; with it, a runaway is stopped later rather than a bystander
// killed. Clocks that are exact (a child process's CPU time, for the process tiers) take no budget.
import { WATCHDOG_INTERVAL_MS } from '../../limits.ts';

export interface MeteredTask {
  /** CPU charged so far, in nanoseconds. */
  cpuNs: number;
  /** performance.now() after which the request is over its wall-clock limit. */
  readonly deadline: number;
  /**
   * The request's signal (its client's disconnect), looked at on each tick like the deadline:
   * cheaper than a listener per request, and 5 ms is soon enough. Cleared once it aborted.
   */
  signal?: AbortSignal | undefined;
}

/** A turn of work with a CPU limit of its own (SandboxMeter.startTurn). */
export interface Turn {
  cpuNs: number;
}

export interface MeterHooks<T extends MeteredTask> {
  readCpuNs(): number;
  onCpuLimit(): void;
  onWallLimit(task: T): void;
  /** The client of `task`'s request went away before its answer was complete. */
  onClientLeft?(task: T): void;
}

export class SandboxMeter<T extends MeteredTask> {
  readonly tasks = new Set<T>();
  readonly #hooks: MeterHooks<T>;
  readonly #cpuLimitNs: number;
  readonly #enforcer: LimitEnforcer;
  #lastCpuNs = 0;
  #backgroundNs = 0;
  readonly #turns = new Set<Turn>();
  /** Deliveries of background work not yet run (see background()). */
  #background = 0;
  #watched = false;
  #held = false;
  /** CPU still to be let off (allow()), in ns. */
  #allowedNs = 0;
  /** The host's CPU in the sandbox's synchronous calls (chargeHost()), not yet charged, in ns. */
  #hostNs = 0;

  constructor(enforcer: LimitEnforcer, cpuLimitMs: number, hooks: MeterHooks<T>) {
    this.#enforcer = enforcer;
    this.#cpuLimitNs = cpuLimitMs * 1e6;
    this.#hooks = hooks;
  }

  start(task: T): void {
    this.#backgroundNs = 0;
    this.tasks.add(task);
    this.#watch();
    // Already watched for background work, the watchdog may have been let go of the process:
    // a request holds it again from its start, not from the next tick.
    this.#enforcer.holdProcess();
  }

  end(task: T): void {
    this.tasks.delete(task);
  }

  /** Something may run without a request (a timer fired): keep an eye on it. */
  poke(): void {
    this.#watch();
  }

  /**
   * Work that, like a request, has a CPU limit of its own, but no deadline and no client to leave
   * (a WebSocket message's handler, as Workers meter each message): metered from when its call
   * starts until endTurn.
   */
  startTurn(): Turn {
    const turn = { cpuNs: 0 };
    this.#turns.add(turn);
    // Unlike a request's start, no fresh background budget: a client sending a message every few
    // ms would otherwise keep a tenant's spinning timer alive. The idle check's rest() refills it.
    this.#watch();
    return turn;
  }

  endTurn(turn: Turn): void {
    this.#turns.delete(turn);
  }

  /**
   * A process sandbox's idle check looked at its clock (every 500 ms) and found `burntNs` since its
   * last look: what this meter's ticks did not see is charged to the background budget, when
   * nothing is in flight. The ticks stop at the first that finds the clock still, so a timer
   * burning in bursts with pauses between (45 of every 100 ms, in a microVM) was charged a burst's
   * remainder per look at most, and burnt on for as long as the sandbox was kept.
   */
  look(burntNs: number): void {
    const unseen = burntNs - this.#tickedNs;
    this.#tickedNs = 0;
    if (unseen <= 0 || this.tasks.size > 0 || this.#turns.size > 0) return;
    this.#backgroundNs += unseen;
    if (this.#backgroundNs > this.#cpuLimitNs) {
      this.#enforcer.unwatch(this);
      this.#overCpu();
    }
  }

  /**
   * Charges what the clock says now, as a tick would, so that an answer's CPU is its own and not
   * what the last tick (up to an interval ago) had seen: for the request log of tiers whose clock
   * is exact (a process's; an isolate's answers share their batch's reading instead).
   */
  settle(): void {
    if (!this.#watched) return;
    if (!this.charge(performance.now(), this.read() + this.readHost())) this.#enforcer.unwatch(this);
  }

  /** CPU the ticks have read since the last look(), in ns. */
  #tickedNs = 0;

  /** The sandbox was seen quiet with nothing in flight: its background budget is whole again. */
  rest(): void {
    if (this.tasks.size === 0 && this.#turns.size === 0) this.#backgroundNs = 0;
  }

  /**
   * Work no request waits for is on its way into the sandbox (a timer fired, a result delivered):
   * watched at least until the returned function is called once it has run. A clock that has not
   * moved proves nothing before then: on a loaded machine the sandbox's thread may still be
   * waiting for a core, and a loop that starts after the watch ended would never be stopped.
   */
  background(): () => void {
    this.#background++;
    this.#watch();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#background--;
    };
  }

  /**
   * While held, the sandbox's CPU is the host's own work (an idle garbage collection), charged to
   * no one: a request that arrives meanwhile waits for it without paying for it. It is watched
   * all the same, so that its CPU counts when a tick's readings are scaled to the budget.
   */
  hold(): void {
    this.#held = true;
    this.#watch();
    this.#lastCpuNs = this.#hooks.readCpuNs();
  }

  /**
   * The host's work is done, but its aftermath is the host's too: after a low-memory collection
   * the next requests grow the young generation and compile flushed bytecode again, so the next
   * `aftermathNs` of CPU go uncharged. Only the host grants it, and grants do not add up.
   */
  release(aftermathNs: number): void {
    this.#held = false;
    this.#lastCpuNs = this.#hooks.readCpuNs();
    this.#allowedNs = Math.max(this.#allowedNs, aftermathNs);
  }

  /**
   * Lets the next `ns` of the sandbox's CPU go uncharged, until allow(0): for work the runtime
   * does on the tenant's behalf that no request should pay for (compiling lol-html for a first
   * HTMLRewriter). Bounded, unlike hold(), because a tenant sets it off and can patch what that
   * work calls into a loop: past the allowance it is charged as usual and stopped at the limit.
   */
  allow(ns: number): void {
    this.#allowedNs = ns;
  }

  /**
   * CPU the host's event-loop thread spent inside one of the sandbox's synchronous calls (a
   * digest's piece, a WebSocket send): the sandbox's thread waits meanwhile and its clock stands
   * still, so without this a tenant calling in a loop spent the host's CPU at no cost to its own
   * limit (a probe kept the loop busy 2.3 s from a request with a 50 ms limit). Charged at the
   * next tick like the sandbox's own CPU, but never scaled to the budget: that bounds the other
   * threads. Measured as wall time, since Linux reports a running thread's own CPU time
   * (getrusage, process.threadCpuUsage) only to the scheduler's last tick, which saw ~7 of ~150
   * ms; the event loop is seldom preempted in the few microseconds one call takes.
   */
  chargeHost(ns: number): void {
    this.#hostNs += ns;
    this.#watch();
  }

  /** The host's CPU charged by chargeHost() since the last reading, in ns. */
  readHost(): number {
    const ns = this.#hostNs;
    this.#hostNs = 0;
    return ns;
  }

  stop(): void {
    this.tasks.clear();
    this.#turns.clear();
    this.#enforcer.unwatch(this);
    this.#watched = false;
  }

  #watch(): void {
    if (this.#watched) return;
    this.#watched = true;
    this.#lastCpuNs = this.#hooks.readCpuNs();
    this.#enforcer.watch(this);
  }

  /** The sandbox's CPU clock advance since the last reading, in ns, the host's own work included (hold()). */
  read(): number {
    const cpu = this.#hooks.readCpuNs();
    const delta = Math.max(0, cpu - this.#lastCpuNs);
    this.#lastCpuNs = cpu;
    return delta;
  }

  /** Charges one tick's `delta` to the work in flight; returns false when there is nothing left to watch. */
  charge(now: number, delta: number): boolean {
    this.#tickedNs += delta;
    if (this.#held) delta = 0;
    if (this.#allowedNs > 0) {
      const allowed = Math.min(this.#allowedNs, delta);
      this.#allowedNs -= allowed;
      delta -= allowed;
    }
    const n = this.tasks.size + this.#turns.size;
    if (n === 0) {
      if (delta === 0 && this.#background === 0 && !this.#held) {
        this.#watched = false;
        return false;
      }
      this.#backgroundNs += delta;
      if (this.#backgroundNs > this.#cpuLimitNs) return this.#overCpu();
      return true;
    }
    const share = delta / n;
    for (const turn of this.#turns) {
      turn.cpuNs += share;
      if (turn.cpuNs > this.#cpuLimitNs) return this.#overCpu();
    }
    for (const task of this.tasks) {
      task.cpuNs += share;
      if (task.cpuNs > this.#cpuLimitNs) return this.#overCpu();
      if (now > task.deadline) this.#hooks.onWallLimit(task);
      if (task.signal?.aborted) {
        task.signal = undefined;
        this.#hooks.onClientLeft?.(task);
      }
    }
    return true;
  }

  #overCpu(): false {
    this.#watched = false;
    this.#hooks.onCpuLimit();
    return false;
  }
}

export interface LimitEnforcerOptions {
  /** How often busy sandboxes are sampled (default WATCHDOG_INTERVAL_MS). */
  intervalMs?: number;
  /**
   * Total CPU time so far, in ns, that the metered clocks' threads can have used between them;
   * each tick's charges are scaled to fit its advance. For isolates: offThreadCpuNs. Leave it out
   * for exact clocks.
   */
  readCpuBudgetNs?: () => number;
}

/**
 * The watchdog: one interval for all busy sandboxes, running only while any is busy. While a
 * request is in flight it holds the process open, as pending I/O does: a script awaiting
 * engine.fetch() on a tenant that waits on its own setTimeout (whose host timer does not hold the
 * process) would otherwise exit. A tenant's own timers firing with no request (background work)
 * do not: they must not keep a script alive that is done with the engine.
 */
export class LimitEnforcer {
  readonly #watched = new Set<SandboxMeter<MeteredTask>>();
  readonly #intervalMs: number;
  readonly #readCpuBudgetNs: (() => number) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastBudgetNs = 0;

  constructor(options: LimitEnforcerOptions = {}) {
    this.#intervalMs = options.intervalMs ?? WATCHDOG_INTERVAL_MS;
    this.#readCpuBudgetNs = options.readCpuBudgetNs;
  }

  meter<T extends MeteredTask>(cpuLimitMs: number, hooks: MeterHooks<T>): SandboxMeter<T> {
    return new SandboxMeter<T>(this, cpuLimitMs, hooks);
  }

  watch(meter: SandboxMeter<any>): void {
    this.#watched.add(meter);
    if (!this.#timer) {
      this.#lastBudgetNs = this.#readCpuBudgetNs?.() ?? 0;
      this.#timer = setInterval(this.#tick, this.#intervalMs);
    }
  }

  /** A request is in flight: the watchdog keeps the process open (see the class's comment). */
  holdProcess(): void {
    this.#timer?.ref();
  }

  unwatch(meter: SandboxMeter<any>): void {
    this.#watched.delete(meter);
    this.#idleCheck();
  }

  get watching(): number {
    return this.#watched.size;
  }

  #tick = (): void => {
    const now = performance.now();
    const meters = [...this.#watched];
    const deltas = meters.map((meter) => meter.read());
    let scale = 1;
    if (this.#readCpuBudgetNs) {
      const budgetNs = this.#readCpuBudgetNs();
      const available = Math.max(0, budgetNs - this.#lastBudgetNs);
      this.#lastBudgetNs = budgetNs;
      const total = deltas.reduce((sum, d) => sum + d, 0);
      if (total > available) scale = available / total;
    }
    let requests = false;
    meters.forEach((meter, i) => {
      if (!meter.charge(now, deltas[i]! * scale + meter.readHost())) this.#watched.delete(meter);
      else if (meter.tasks.size > 0) requests = true;
    });
    if (requests) this.#timer?.ref();
    else this.#timer?.unref();
    this.#idleCheck();
  };

  #idleCheck(): void {
    if (this.#watched.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

/** CPU time this process has used outside its event-loop thread (the isolates' threads among them), in ns. */
export function offThreadCpuNs(): number {
  const all = process.cpuUsage();
  const loop = process.threadCpuUsage();
  return (all.user + all.system - loop.user - loop.system) * 1000;
}
