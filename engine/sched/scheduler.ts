// Where a request waits and which sandbox runs it. Per function: replicas up to its concurrency
// and replica limits, a bounded queue behind them, quarantine for repeat offenders. Across
// functions: an in-flight cap shared by deficit round robin (fair-queue.ts), and admission
// control that refuses early (503 overloaded) when event-loop lag or memory pass their bounds,
// refusing the functions that send more requests than the average function.
//
// The request path is counters and one pick over a function's few replicas; sampling, scaling
// and queue expiry run on a tick (which also measures the event loop's lag by its own lateness).
import {
  ClientClosedError, CpuLimitError, IsletError, MemoryLimitError, NoRoomError, OverloadedError, QuarantinedError, WallLimitError, type ShedReason,
} from '../errors.ts';
import type { Limits } from '../limits.ts';
import type { Sandbox } from '../tiers/tier.ts';
import { DeficitRoundRobin, type Flow } from './fair-queue.ts';
import { QuarantineRecord } from './quarantine.ts';
import { ReplicaSet, type Replica } from './replica-set.ts';
import type { SchedOptions } from './sched-options.ts';
import type { Lender } from '../wire.ts';

/** Functions waiting for room under the live isolate cap that each tick lets try again. */
const ROOM_RETRIES_PER_TICK = 8;

export type LimitKind = 'cpu' | 'memory' | 'wall';

/** What the scheduler needs from the engine, and tells it. */
export interface SchedHooks {
  /** Boots a sandbox for `fn` (making room under the live-isolate cap first). */
  boot(fn: SchedFunction): Promise<Sandbox>;
  readRss(): number;
  onShed(fn: SchedFunction, reason: ShedReason): void;
  onLimitKill(fn: SchedFunction, limit: LimitKind): void;
  onQuarantine(fn: SchedFunction, periodMs: number): void;
}

/** Told how a submitted run ended, and when it was submitted (performance.now()). */
export type Settled<T> = (value: T | undefined, err: unknown, submittedAt: number) => void;

interface Waiting {
  run(sandbox: Sandbox): Promise<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  settled: Settled<unknown> | undefined;
  /** performance.now() when it was submitted. */
  since: number;
  /** Aborts when its client leaves: it is then dropped from the queue instead of run. */
  signal: AbortSignal | undefined;
  /** How many service-binding calls deep it is (see submit): above 0 it waits ahead of clients' requests. */
  depth: number;
  /** Who may lend it a place (its caller's sandbox), for a call. */
  lender: Lender | undefined;
}

// Until a function's cost is measured, a request is taken to hold its slot this long; measured
// costs are kept within these bounds so a round never needs more than a few visits.
const INITIAL_COST_NS = 1e6;
const MIN_COST_NS = 5e4;
const MAX_COST_NS = 1e8;
// Retry-After for requests refused because the engine is overloaded.
const OVERLOAD_RETRY_AFTER_S = 1;

/** One deployed function as the scheduler sees it. */
export class SchedFunction implements Flow {
  readonly name: string;
  readonly limits: Limits;
  readonly replicas = new ReplicaSet();
  readonly queue: Waiting[] = [];
  quarantine = new QuarantineRecord();
  deficitNs = 0;
  inRound = false;
  /**
   * How long a request holds an in-flight slot (moving average over ticks, by Little's law:
   * in flight × tick ÷ finished), in ns: its cost in the round robin.
   */
  costNs = INITIAL_COST_NS;
  inFlight = 0;
  /** In flight plus waiting. */
  load = 0;
  /** Undeployed or replaced: boots that finish now are stopped. */
  removed = false;
  /**
   * The replica the round robin found free for it, and whether the request goes there on a place
   * lent it (submit); which waiting request that is (a lent place may go to a call behind the head).
   */
  picked: Replica | undefined;
  pickedLent = false;
  pickedAt = 0;
  /** Requests submitted since the last tick, and their rate (moving average, per second). */
  arrivals = 0;
  rate = 0;
  /** Per tick: requests finished, highest load, since when its load would fit one replica fewer. */
  completed = 0;
  peakLoad = 0;
  calmSince = 0;

  constructor(name: string, limits: Limits) {
    this.name = name;
    this.limits = limits;
  }

  get waiting(): number {
    return this.queue.length;
  }
}

export class Scheduler {
  readonly #o: SchedOptions;
  readonly #hooks: SchedHooks;
  readonly #functions = new Set<SchedFunction>();
  readonly #drr: DeficitRoundRobin<SchedFunction>;
  readonly #timer: NodeJS.Timeout;
  #inFlight = 0;
  /** Calls in flight on a place lent them (submit): not counted against maxInFlight. */
  #lent = 0;
  /** Service-binding calls waiting in any queue. */
  #nestedWaiting = 0;
  /** Quarantine refusals being held (#refuseQuarantined), each a function that sends it now. */
  readonly #held = new Set<() => void>();
  /** Average request rate of the functions that had requests lately (per second). */
  #averageRate = 0;
  #pressure: ShedReason | undefined;
  #lagMs = 0;
  #previousLagMs = 0;
  #lastTick = performance.now();
  /** Kills already counted: one kill fails every request in flight, and is also told on its own. */
  readonly #counted = new WeakSet<object>();
  /** Functions with requests queued for a first sandbox that found no room under the live isolate cap. */
  readonly #roomWaiters = new Set<SchedFunction>();

  constructor(options: SchedOptions, hooks: SchedHooks) {
    this.#o = options;
    this.#hooks = hooks;
    this.#drr = new DeficitRoundRobin(options.quantumMs * 1e6);
    this.#timer = setInterval(() => this.tick(), options.tickMs);
    this.#timer.unref();
  }

  add(name: string, limits: Limits): SchedFunction {
    const fn = new SchedFunction(name, limits);
    this.#functions.add(fn);
    return fn;
  }

  /** `next` takes over `previous`'s waiting requests (a redeploy); `previous` stops taking new ones. */
  replace(previous: SchedFunction, next: SchedFunction, sameCode = false): void {
    this.#forget(previous);
    if (sameCode) next.quarantine = previous.quarantine;
    next.replicas.retiredCpuNs += previous.replicas.cpuNs();
    const waiting = this.#takeQueue(previous);
    for (const w of waiting) this.#enqueue(next, w);
    this.#pump();
    // The new version may have no sandbox yet (deployed at the live isolate cap, its boot only
    // proved it loads): the requests it took over need one booted, as a cold start would.
    if (next.queue.length > 0 && !next.replicas.warm) this.#scaleOut(next);
  }

  /** The function is gone: its waiting requests fail with `reason`. */
  remove(fn: SchedFunction, reason: IsletError): void {
    this.#forget(fn);
    this.#failQueue(fn, reason);
  }

  /**
   * Runs `run` on one of `fn`'s sandboxes, now or when its turn comes; refuses early when
   * overloaded. `settled` hears how it ended, refusals included, without a promise of its own.
   *
   * A run `depth` > 0 deep is a service-binding call, made by a request that holds a place and
   * waits for it. Held to the places like a client's request, callers holding every place would
   * wait for calls that wait for their places: a function bound to itself, at 200 clients at
   * once (each request one call), answered 72 of them 503 after 10 s in the queue. So a call goes
   * ahead of clients' requests, and when there is no place under the limits its `lender` (the
   * caller's sandbox) may lend it one, on any live replica, past the function's concurrency and
   * the engine's in-flight cap: while the calls it has lent places are fewer than its tasks at
   * the caller's depth (Lender). Each caller lends about one place, so a chain goes all the way
   * down and the bottom of every chain can always run, while a caller's further calls (fan-out)
   * wait for places like anyone's. Lending without a bound let one client request hold 73 places
   * under a cap of 16 and starve other tenants; one pool per depth for the whole engine let one
   * tenant's fan-out take the places another tenant's requests would lend their own calls.
   */
  submit<T>(fn: SchedFunction, run: (sandbox: Sandbox) => Promise<T>, settled?: Settled<T>, signal?: AbortSignal, depth = 0, lender?: Lender): Promise<T> {
    const now = performance.now();
    fn.arrivals++;
    if (fn.quarantine.until !== 0) {
      if (now < fn.quarantine.until) return this.#refuseQuarantined(fn, now, settled);
      fn.quarantine.until = 0;
    }
    // Under pressure, refuse the functions sending more than the average function: the cost that
    // lags the event loop is per request (parsing, writing), so request rate is the share to judge.
    // Not a call: its client's request was let in, and refusing its calls would waste the work done.
    if (this.#pressure !== undefined && depth === 0 && fn.rate > 0 && fn.rate >= this.#averageRate) return this.#shed(fn, this.#pressure, now, settled);
    if ((depth > 0 || fn.queue.length === 0) && this.#inFlight - this.#lent < this.#o.maxInFlight) {
      const replica = fn.replicas.pick(fn.limits.concurrency);
      if (replica) {
        this.#addLoad(fn, 1);
        return this.#dispatch(fn, replica, run, now, settled, undefined);
      }
    }
    if (depth > 0 && lender?.canLend()) {
      const replica = this.#lendOn(fn);
      if (replica) {
        this.#addLoad(fn, 1);
        return this.#dispatch(fn, replica, run, now, settled, lender);
      }
    }
    if (fn.queue.length >= fn.limits.maxQueue) return this.#shed(fn, 'queue', now, settled);
    return new Promise<T>((resolve, reject) => {
      this.#enqueue(fn, { run, resolve: resolve as (v: unknown) => void, reject, settled: settled as Settled<unknown> | undefined, since: now, signal, depth, lender });
      if (!fn.replicas.pick(fn.limits.concurrency)) this.#scaleOut(fn);
    });
  }

  /** The least loaded replica, full or not; over its concurrency, what comes next spreads over one more. */
  #lendOn(fn: SchedFunction): Replica | undefined {
    const replica = fn.replicas.pick(Infinity);
    if (replica && replica.sandbox.inFlight >= fn.limits.concurrency) this.#scaleOut(fn);
    return replica;
  }

  /** True while the function's requests are refused for its quarantine: they boot nothing. */
  quarantined(fn: SchedFunction, now = performance.now()): boolean {
    return fn.quarantine.until !== 0 && now < fn.quarantine.until;
  }

  /** Boots a replica if the function has none (a keep-alive pre-warm). */
  warm(fn: SchedFunction): void {
    if (fn.replicas.live === 0) this.#scaleOut(fn);
  }

  /** Requests in flight in all sandboxes. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** How late the last tick ran, in ms: the event loop's lag. */
  get eventLoopLagMs(): number {
    return this.#lagMs;
  }

  /** Why new work over its share is refused now, if it is. */
  get pressure(): ShedReason | undefined {
    return this.#pressure;
  }

  /** Samples lag, memory and each busy function's replicas; scales out and in; expires waits. */
  tick(now = performance.now()): void {
    const tickNs = Math.max(1, (now - this.#lastTick) * 1e6);
    // The tick is its own lag probe: perf_hooks' delay histogram drops the sample in progress when
    // it is reset, which is exactly the long stall a window should catch.
    this.#previousLagMs = this.#lagMs;
    this.#lagMs = Math.max(0, now - this.#lastTick - this.#o.tickMs);
    this.#lastTick = now;
    const rssMb = this.#hooks.readRss() / 1048576;
    // Two late ticks in a row: one alone is a GC pause or a descheduled moment, not overload.
    const lagging = Math.min(this.#lagMs, this.#previousLagMs) > this.#o.maxEventLoopLagMs;
    this.#pressure = lagging ? 'event-loop-lag' : rssMb > this.#o.maxRssMb ? 'memory' : undefined;
    let rates = 0;
    let senders = 0;
    for (const fn of this.#functions) {
      if (fn.load === 0 && fn.completed === 0 && fn.arrivals === 0 && fn.rate === 0 && fn.replicas.all.length <= 1) continue;
      fn.rate = 0.5 * fn.rate + 0.5 * (fn.arrivals / (tickNs / 1e9));
      if (fn.rate < 0.5) fn.rate = 0;
      fn.arrivals = 0;
      if (fn.rate > 0) {
        rates += fn.rate;
        senders++;
      }
      this.#expireWaits(fn, now);
      // Requests waiting (for the in-flight cap) for a function whose last replica was evicted to
      // make room for another: nothing else would boot it again before they time out. Only once
      // a place is free for them: booted while the cap holds, it would only wait, holding room.
      if (fn.queue.length > 0 && fn.replicas.live === 0 && !this.#roomWaiters.has(fn) && (this.#inFlight - this.#lent < this.#o.maxInFlight || fn.queue[0]!.depth > 0)) this.#scaleOut(fn);
      if (this.#roomWaiters.has(fn) && fn.queue.length === 0) this.#roomWaiters.delete(fn);
      this.#learnCost(fn, tickNs);
      this.#scale(fn, now, tickNs);
    }
    this.#averageRate = senders > 0 ? rates / senders : 0;
    // Room can also free without an answer (an isolate evicted by the sweep, or killed).
    if (this.#roomWaiters.size > 0) this.#retryRoom(ROOM_RETRIES_PER_TICK);
    // A call may be lent a place since its caller's sandbox took a task, which pumps nothing.
    if (this.#nestedWaiting > 0) this.#pump();
  }

  close(reason: IsletError): void {
    clearInterval(this.#timer);
    for (const send of [...this.#held]) send();
    for (const fn of this.#functions) this.remove(fn, reason);
  }

  /** Runs it on `replica`; `lentBy` lent it the place (submit), or it has one of its own. */
  #dispatch<T>(fn: SchedFunction, replica: Replica, run: (sandbox: Sandbox) => Promise<T>, since: number, settled: Settled<T> | undefined, lentBy: Lender | undefined): Promise<T> {
    this.#inFlight++;
    fn.inFlight++;
    if (lentBy) {
      lentBy.take();
      this.#lent++;
    }
    ReplicaSet.touch(replica);
    let answer: Promise<T>;
    try {
      answer = run(replica.sandbox);
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then((value) => {
      fn.quarantine.answered();
      this.#release(fn, lentBy);
      settled?.(value, undefined, since);
    }, (err: unknown) => {
      if (limitOf(err) === undefined) fn.quarantine.answered();
      else this.#noteFailure(fn, err);
      this.#release(fn, lentBy);
      settled?.(undefined, err, since);
    });
    return answer;
  }

  #release(fn: SchedFunction, lentBy: Lender | undefined): void {
    this.#inFlight--;
    fn.inFlight--;
    if (lentBy) {
      lentBy.giveBack();
      this.#lent--;
    }
    fn.completed++;
    this.#addLoad(fn, -1);
    if (this.#drr.size > 0) this.#pump();
    if (this.#roomWaiters.size > 0) this.#retryRoom(1);
  }

  /**
   * An isolate may have gone idle: the `count` functions that have waited for room longest try to
   * boot again (one that still finds none goes to the back). An answer frees at most one isolate,
   * so it retries one: trying every waiter on every answer would cost a burst of n cold starts n².
   */
  #retryRoom(count: number): void {
    for (const fn of this.#roomWaiters) {
      if (count-- <= 0) break;
      this.#roomWaiters.delete(fn);
      if (!fn.removed && fn.queue.length > 0) this.#scaleOut(fn);
    }
  }

  /** Lets waiting requests in while there is room (or a call may be lent a place), in deficit-round-robin order. */
  #pump(): void {
    for (;;) {
      if (this.#inFlight - this.#lent >= this.#o.maxInFlight && this.#nestedWaiting === 0) return;
      const fn = this.#drr.next(this.#canSend);
      if (!fn) return;
      const waiting = fn.pickedAt === 0 ? fn.queue.shift()! : fn.queue.splice(fn.pickedAt, 1)[0]!;
      if (waiting.depth > 0) this.#nestedWaiting--;
      if (waiting.signal?.aborted) {
        this.#dropLeft(fn, waiting);
        continue;
      }
      this.#dispatch(fn, fn.picked!, waiting.run, waiting.since, waiting.settled, fn.pickedLent ? waiting.lender : undefined).then(waiting.resolve, waiting.reject);
    }
  }

  #canSend = (fn: SchedFunction): boolean => {
    fn.pickedLent = false;
    fn.pickedAt = 0;
    if (this.#inFlight - this.#lent < this.#o.maxInFlight && (fn.picked = fn.replicas.pick(fn.limits.concurrency)) !== undefined) return true;
    // No place: the first call whose caller can lend it one, not just the head. The calls queued
    // have different callers; one whose caller has lent all it may must not hold up the others,
    // whose callers may be waiting on the very call it waits behind (a fan-out in each hop).
    let at = 0;
    while (at < fn.queue.length && fn.queue[at]!.depth > 0 && !fn.queue[at]!.lender?.canLend()) at++;
    if (at >= fn.queue.length || fn.queue[at]!.depth === 0) return false;
    fn.pickedAt = at;
    fn.picked = this.#lendOn(fn);
    fn.pickedLent = true;
    return fn.picked !== undefined;
  };

  /** Takes every waiting request out of `fn`'s queue (they are no longer its load). */
  #takeQueue(fn: SchedFunction): Waiting[] {
    const waiting = fn.queue.splice(0);
    this.#addLoad(fn, -waiting.length);
    for (const w of waiting) if (w.depth > 0) this.#nestedWaiting--;
    return waiting;
  }

  #enqueue(fn: SchedFunction, waiting: Waiting): void {
    if (waiting.depth > 0) {
      // Behind the other calls, ahead of every client's request.
      this.#nestedWaiting++;
      let i = 0;
      while (i < fn.queue.length && fn.queue[i]!.depth > 0) i++;
      fn.queue.splice(i, 0, waiting);
    } else fn.queue.push(waiting);
    this.#addLoad(fn, 1);
    this.#drr.activate(fn);
  }

  #addLoad(fn: SchedFunction, delta: number): void {
    fn.load += delta;
    if (fn.load > fn.peakLoad) fn.peakLoad = fn.load;
  }

  #shed(fn: SchedFunction, reason: ShedReason, now: number, settled: Settled<never> | undefined): Promise<never> {
    this.#hooks.onShed(fn, reason);
    return this.#refuse(new OverloadedError(fn.name, reason, OVERLOAD_RETRY_AFTER_S), now, settled);
  }

  /**
   * A quarantined function's refusal, sent after `holdMs` (or when the quarantine ends, if
   * sooner): a client retrying at once then costs a refusal per hold instead of as many as the
   * event loop can write. Past `maxHeld` held at once (a client with many connections), or with
   * no hold configured, it goes at once.
   */
  #refuseQuarantined(fn: SchedFunction, now: number, settled: Settled<never> | undefined): Promise<never> {
    const refusal = (at: number) => new QuarantinedError(fn.name, fn.quarantine.retryAfterS(at));
    const o = this.#o.quarantine;
    const holdMs = o ? Math.min(o.holdMs, fn.quarantine.until - now) : 0;
    if (!o || holdMs <= 0 || this.#held.size >= o.maxHeld) return this.#refuse(refusal(now), now, settled);
    return new Promise<never>((_, reject) => {
      const send = () => {
        clearTimeout(timer);
        this.#held.delete(send);
        const err = refusal(performance.now());
        settled?.(undefined, err, now);
        reject(err);
      };
      const timer = setTimeout(send, holdMs);
      this.#held.add(send);
    });
  }

  #refuse(err: IsletError, now: number, settled: Settled<never> | undefined): Promise<never> {
    settled?.(undefined, err, now);
    return Promise.reject(err);
  }

  #failQueue(fn: SchedFunction, reason: unknown): void {
    for (const w of this.#takeQueue(fn)) this.#failWaiting(w, reason);
  }

  /** A waiting request whose client left: it leaves the queue unrun. */
  #dropLeft(fn: SchedFunction, waiting: Waiting): void {
    this.#addLoad(fn, -1);
    this.#failWaiting(waiting, new ClientClosedError(fn.name));
  }

  #failWaiting(waiting: Waiting, reason: unknown): void {
    waiting.settled?.(undefined, reason, waiting.since);
    waiting.reject(reason);
  }

  #forget(fn: SchedFunction): void {
    fn.removed = true;
    this.#functions.delete(fn);
    this.#drr.remove(fn);
  }

  /** Boots one more replica unless one is booting already or the function is at its limit. */
  #scaleOut(fn: SchedFunction): void {
    if (fn.removed || fn.replicas.booting > 0 || fn.replicas.live >= fn.limits.maxReplicas) return;
    // Counted as booting only after boot() made room for it: it must not count against itself.
    const boot = this.#hooks.boot(fn);
    fn.replicas.booting++;
    boot.then(
      (sandbox) => {
        fn.replicas.booting--;
        if (fn.removed) {
          sandbox.stop();
          return;
        }
        fn.replicas.add(sandbox);
        this.#pump();
        // Still more waiting than the replicas take: one more, one boot at a time.
        if (fn.queue.length > 0 && !fn.replicas.pick(fn.limits.concurrency)) this.#scaleOut(fn);
      },
      (err: unknown) => {
        fn.replicas.booting--;
        // Every isolate under the cap is busy or booting (a burst of cold starts): its requests
        // wait for one to go idle, as they would wait for a busy replica, up to maxQueueWaitMs.
        if (err instanceof NoRoomError && !fn.replicas.warm && fn.queue.length > 0) {
          this.#roomWaiters.add(fn);
          return;
        }
        // A boot whose top level ran into a limit (the engine says so with the limit's error) is
        // a strike like a request's: a function that spins on every restart gets quarantined.
        this.#noteFailure(fn, err);
        // With replicas left, the queue drains through them; with none, nothing would serve it.
        if (!fn.replicas.warm) this.#failQueue(fn, err);
      },
    );
  }

  #expireWaits(fn: SchedFunction, now: number): void {
    // Requests whose client left hold their place in the queue (and count as load) until dropped.
    if (fn.queue.some((w) => w.signal?.aborted)) {
      const stay = fn.queue.filter((w) => !w.signal?.aborted);
      const left = fn.queue.filter((w) => w.signal?.aborted);
      fn.queue.splice(0, fn.queue.length, ...stay);
      for (const waiting of left) {
        if (waiting.depth > 0) this.#nestedWaiting--;
        this.#dropLeft(fn, waiting);
      }
    }
    // Waiting for the function's first sandbox is waiting for its boot, which the tier bounds (a
    // failed boot fails the queue): a microVM's boot can outlast the queue's limit.
    if (!fn.replicas.warm && fn.replicas.booting > 0) return;
    // Calls wait ahead of clients' requests, each part in arrival order: a client's wait is over
    // even while younger calls keep coming in ahead of it.
    const due = (w: Waiting) => now - w.since > this.#o.maxQueueWaitMs;
    const firstClient = fn.queue.findIndex((w) => w.depth === 0);
    if (!(fn.queue.length > 0 && due(fn.queue[0]!)) && !(firstClient > 0 && due(fn.queue[firstClient]!))) return;
    const expired = fn.queue.filter(due);
    fn.queue.splice(0, fn.queue.length, ...fn.queue.filter((w) => !due(w)));
    for (const waiting of expired) {
      if (waiting.depth > 0) this.#nestedWaiting--;
      this.#addLoad(fn, -1);
      this.#hooks.onShed(fn, 'queue-wait');
      this.#failWaiting(waiting, new OverloadedError(fn.name, 'queue-wait', OVERLOAD_RETRY_AFTER_S));
    }
  }

  /**
   * Reads each replica's CPU clock: a function whose replicas are all busy on their threads with
   * more work than replicas gets another (CPU-bound work spreads over cores); one whose load has
   * fit in one replica fewer, with room to spare, for scaleInAfterMs loses its newest idle one.
   */
  #scale(fn: SchedFunction, now: number, tickNs: number): void {
    const replicas = fn.replicas.all;
    let busy = 0;
    let allBusy = replicas.length > 0;
    for (const replica of replicas) {
      const cpu = replica.sandbox.usage?.().cpuNs ?? replica.cpuSeenNs;
      replica.busyShare = Math.max(0, cpu - replica.cpuSeenNs) / tickNs;
      replica.cpuSeenNs = cpu;
      busy += replica.busyShare;
      if (replica.busyShare < this.#o.scaleOutBusyShare) allBusy = false;
    }
    const n = replicas.length;
    if (allBusy && fn.load > n) this.#scaleOut(fn);
    const fewer = n - 1;
    const calm = n > 1 && fn.peakLoad <= fewer * fn.limits.concurrency * 0.5 && busy <= fewer * this.#o.scaleOutBusyShare * 0.5;
    fn.peakLoad = fn.load;
    if (!calm) {
      fn.calmSince = 0;
      return;
    }
    if (fn.calmSince === 0) fn.calmSince = now;
    if (now - fn.calmSince < this.#o.scaleInAfterMs) return;
    fn.calmSince = 0;
    // Not one holding WebSockets open: retiring it would close them (scale-in is for idle capacity).
    let victim: Replica | undefined;
    for (const replica of replicas) {
      if (!replica.sandbox.held && (!victim || replica.sandbox.inFlight < victim.sandbox.inFlight)) victim = replica;
    }
    if (victim) void fn.replicas.remove(victim).retire();
  }

  /** Little's law over the tick: slot-time held (in flight × tick) per request finished. */
  #learnCost(fn: SchedFunction, tickNs: number): void {
    if (fn.completed > 0) {
      const cost = Math.min(MAX_COST_NS, Math.max(MIN_COST_NS, (fn.inFlight * tickNs) / fn.completed));
      fn.costNs = 0.7 * fn.costNs + 0.3 * cost;
    }
    fn.completed = 0;
  }

  /**
   * A sandbox has room again outside a request's answer (its waitUntil work or streamed body
   * ended): let waiting requests in. Answers themselves pump through their own release.
   */
  roomFreed(): void {
    if (this.#drr.size > 0) this.#pump();
    if (this.#roomWaiters.size > 0) this.#retryRoom(1);
  }

  /**
   * A sandbox of `fn` ended on its own (a limit or a crash), perhaps with no request in flight:
   * work after the response that hits a limit counts, and backs the function off, as well.
   */
  noteEnded(fn: SchedFunction, reason: unknown): void {
    // Sandboxes tell their end before failing what they were serving: with requests in flight, the
    // kill is theirs (a killed request); with none, it ends work after an answer already counted.
    if (!fn.removed) this.#noteFailure(fn, reason, fn.inFlight > 0);
  }

  #noteFailure(fn: SchedFunction, err: unknown, ofRequest = true): void {
    const limit = limitOf(err);
    if (!limit || this.#counted.has(err as object)) return;
    this.#counted.add(err as object);
    this.#hooks.onLimitKill(fn, limit);
    if (this.#o.quarantine === false) return;
    const periodMs = fn.quarantine.strike(performance.now(), this.#o.quarantine, ofRequest);
    if (periodMs === undefined) return;
    this.#hooks.onQuarantine(fn, periodMs);
    this.#failQueue(fn, new QuarantinedError(fn.name, Math.ceil(periodMs / 1000)));
  }
}

function limitOf(err: unknown): LimitKind | undefined {
  return err instanceof CpuLimitError ? 'cpu' : err instanceof MemoryLimitError ? 'memory' : err instanceof WallLimitError ? 'wall' : undefined;
}
