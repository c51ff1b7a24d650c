// Backing off a function that keeps hitting its limits: each CPU, memory or wall-clock kill is a
// strike; enough strikes in a short window quarantine the function (its requests are refused
// with 503 quarantined) for a period that doubles each time it re-offends soon after, so a
// tenant that spins or allocates until killed cannot keep the host booting isolates for it.
// Released from quarantine, a function is on probation until forgiven: one strike sends it
// back. Each kill costs the host a limit's worth of CPU (or a heap filled to its limit) and a
// boot, taken from the other tenants; a full window of strikes after every release doubled that.
import type { QuarantineOptions } from './sched-options.ts';

/** One function's record. `until` is read on every request, so it is a plain field. */
export class QuarantineRecord {
  /** performance.now() until which the function is refused; 0 when not quarantined. */
  until = 0;
  /** How many times the function has been quarantined. */
  count = 0;
  #strikes: number[] = [];
  #periodMs = 0;
  #lastStrike = -Infinity;

  /** Records a limit kill at `now`; returns the period (ms) if it put the function in quarantine. */
  strike(now: number, o: QuarantineOptions): number | undefined {
    if (now - this.#lastStrike > o.forgiveAfterMs) this.#periodMs = 0;
    this.#lastStrike = now;
    this.#strikes = this.#strikes.filter((t) => now - t < o.windowMs);
    this.#strikes.push(now);
    // A kill while still in quarantine is of a request let in before it began: not a re-offence.
    const onProbation = this.#periodMs > 0 && now >= this.until;
    if (!onProbation && this.#strikes.length < o.strikes) return undefined;
    this.#strikes = [];
    this.#periodMs = this.#periodMs === 0 ? o.baseMs : Math.min(o.maxMs, this.#periodMs * 2);
    this.until = now + this.#periodMs;
    this.count++;
    return this.#periodMs;
  }

  /** Whole seconds left (at least 1), for Retry-After. */
  retryAfterS(now: number): number {
    return Math.max(1, Math.ceil((this.until - now) / 1000));
  }
}
