// setTimeout & co. on host timers: the isolate keeps the callbacks and their order, the host only
// wakes it. Each timer the tenant sets is also sent to the host (id, delay, when it was set), and
// for each one that comes due the host calls `fireDueTimer()`, which runs the earliest due timer
// of all the isolate has, by deadline and then by the order they were set (HTML's order). The
// choice is made in here because the host hears of timers late: while a long turn sets a
// thousand, it may find some due before it has heard of earlier ones.
import { DeadlineQueue, type Deadlined } from './deadline-queue.ts';
import { logUncaught } from './console.ts';
import { host } from './host-calls.ts';
import { chainDepth, enterChain, UNKNOWN_DEPTH } from '../dispatch/chain-depth.ts';

// Captured at load: a tenant that replaces Reflect.apply, Date.now or Promise#then must not change
// how its timers are called or when they are due.
const { apply } = Reflect;
const dateNow = Date.now;
const { then } = Promise.prototype;
const settled = Promise.resolve();

interface Timer extends Deadlined {
  id: number;
  callback: (...args: unknown[]) => void;
  args: unknown[];
  /** Re-arm delay for setInterval; 0 for setTimeout. */
  repeatMs: number;
  /** HTML's timer nesting level: how many timer callbacks deep it was set (or has repeated). */
  nesting: number;
  /** The service-binding depth of the request that set it: its callback works for that request. */
  depth: number;
}

// A null-prototype record and a plain count, not a Map: what clearTimeout sends the host is read
// from here, and a tenant's replaced Map.prototype.get (with a replaced Number) had it send an array
// of 64 MB strings as a timer's id, four times for 2 GB on the host.
const timers: Record<number, Timer> = Object.create(null) as Record<number, Timer>;
let timerCount = 0;
/** The pending timers, earliest first. */
const queue = new DeadlineQueue<Timer>();
let nextId = 1;
let nextSeq = 1;

/** Queues `timer` `delay` ms from now (this turn's time) and tells the host to wake for it. */
function schedule(timer: Timer, delay: number): void {
  const setAt = turnNow();
  timer.deadline = setAt + delay;
  timer.seq = nextSeq++;
  queue.insert(timer);
  host().setTimer(timer.id, delay, setAt);
}

let maxTimers = Infinity;
/** Nesting level of the timer whose callback runs now; 0 outside timer callbacks. */
let firing = 0;

/**
 * HTML timer initialization steps 10-11: past 5 levels of nesting a delay under 4 ms becomes 4.
 * A 0 ms timer is not otherwise delayed (the host runs it on the next turn), so a callback that
 * sets itself again cannot make the host spin for it.
 */
function clampNested(delay: number, nesting: number): number {
  return nesting > 5 && delay < 4 ? 4 : delay;
}

export function setMaxTimers(n: number): void {
  maxTimers = n;
}

/**
 * The time timers set in this turn count from: read once per turn (until the next microtask
 * checkpoint), as workerd freezes the clock while code runs. `setTimeout(a, 2); setTimeout(b, 1)`
 * then always has b due first, however long the host takes to hear of the two.
 */
let turnTime: number | undefined;

function endTurn(): void {
  turnTime = undefined;
}

function turnNow(): number {
  if (turnTime === undefined) {
    turnTime = dateNow();
    apply(then, settled, [endTurn]);
  }
  return turnTime;
}

// Captured at load: the delay goes to the host (setTimer), and a tenant that replaced Math.min
// had its own object sent there in its place, 40 timers carrying 1.3 GB.
const toNumber = Number;
const { floor } = Math;

function normalizeDelay(ms: unknown): number {
  const n = toNumber(ms);
  // HTML timers clamp to [0, 2^31-1]; NaN and negatives mean "as soon as possible".
  if (!(n > 0)) return 0;
  const whole = floor(n);
  return typeof whole === 'number' && whole < 2 ** 31 - 1 ? whole : 2 ** 31 - 1;
}

function arm(callback: unknown, ms: unknown, args: unknown[], repeat: boolean): number {
  if (typeof callback !== 'function') {
    // Strings are code in browsers; an isolate has no eval-from-timer, so say so plainly.
    throw new TypeError('setTimeout/setInterval need a function as their first argument');
  }
  if (timerCount >= maxTimers) throw new RangeError(`too many pending timers (limit ${maxTimers})`);
  const nesting = firing + 1;
  const delay = clampNested(normalizeDelay(ms), nesting);
  const id = nextId++;
  const timer: Timer = { id, deadline: 0, seq: 0, callback: callback as Timer['callback'], args, repeatMs: repeat ? (delay > 1 ? delay : 1) : 0, nesting, depth: chainDepth() };
  timers[id] = timer;
  timerCount++;
  schedule(timer, delay);
  return id;
}

export function setTimeout(callback: unknown, ms?: unknown, ...args: unknown[]): number {
  return arm(callback, ms, args, false);
}

export function setInterval(callback: unknown, ms?: unknown, ...args: unknown[]): number {
  return arm(callback, ms, args, true);
}

export function clearTimeout(id?: unknown): void {
  const n = toNumber(id);
  if (typeof n !== 'number') return;
  const timer = timers[n];
  if (timer === undefined) return;
  delete timers[n];
  timerCount--;
  queue.remove(timer);
  host().clearTimer(timer.id);
}

export const clearInterval = clearTimeout;

export function queueMicrotask(callback: unknown): void {
  if (typeof callback !== 'function') throw new TypeError('queueMicrotask needs a function');
  Promise.resolve().then(() => callback()).catch(reportError);
}

/**
 * Called by the host once for each timer of its that came due: runs the earliest due timer the
 * isolate has (maybe another one, set earlier than the host knew), or nothing when none is due
 * (it ran on an earlier call). One per call, so microtasks run between timers, as between tasks.
 */
export function fireDueTimer(): void {
  const timer = queue.peek();
  if (timer === undefined || timer.deadline > dateNow()) return enterChain(UNKNOWN_DEPTH);
  queue.shift();
  enterChain(timer.depth);
  if (timer.repeatMs) schedule(timer, clampNested(timer.repeatMs, ++timer.nesting));
  else {
    delete timers[timer.id];
    timerCount--;
  }
  firing = timer.nesting;
  try {
    // HTML "timer initialization steps": the callback's this is the global object, never the record.
    apply(timer.callback, globalThis, timer.args);
  } catch (err) {
    reportError(err);
  } finally {
    firing = 0;
  }
}

export function reportError(err: unknown): void {
  const text = err instanceof Error ? err.stack || `${err.name}: ${err.message}` : String(err);
  logUncaught(`Uncaught ${text}`);
}
