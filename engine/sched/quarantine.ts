// Backing off a function that keeps hitting its limits: each CPU, memory or wall-clock kill is a
// strike; enough strikes in a short window quarantine the function (its requests are refused
// with 503 quarantined) for a period that doubles each time it re-offends soon after, so a
// tenant that spins or allocates until killed cannot keep the host booting isolates for it.
// Released from quarantine, a function is on probation until forgiven: one strike sends it
// back. Each kill costs the host a limit's worth of CPU (or a heap filled to its limit) and a
// boot, taken from the other tenants; a full window of strikes after every release doubled that.
//
// Strikes alone would let any client shut a function out for everyone: five requests with a
// body that makes its parsing slow, then one a minute. So kills must also be a large share of
// the function's recent answers (`minKillShare`): a function that kills itself on every request
// is quarantined as before, one whose clients mostly get answers is not, and a client that wants
// it shut out must send as many killing requests as everyone else sends requests.
import type { QuarantineOptions } from './sched-options.ts';

// The kill share is a moving average over about this many finished requests (fewer while the
// record is new, so that a function that kills itself from its first request counts at once).
const SHARE_SPAN = 16;

/** One function's record. `until` is read on every request, so it is a plain field. */
export class QuarantineRecord {
  /** performance.now() until which the function is refused; 0 when not quarantined. */
  until = 0;
  /** How many times the function has been quarantined. */
  count = 0;
  #strikes: number[] = [];
  #periodMs = 0;
  #lastStrike = -Infinity;
  /** When the last quarantine ended (or ends). */
  #endedAt = -Infinity;
  /** Share of recent finished requests that ended in a limit kill, and how many the average has seen. */
  #killShare = 0;
  #seen = 0;

  /** A request finished without a limit kill (answered, or failed some other way). */
  answered(): void {
    if (this.#seen < SHARE_SPAN) this.#seen++;
    this.#killShare -= this.#killShare / this.#seen;
  }

  /** Share of recent finished requests that were limit kills (0 to 1). */
  get killShare(): number {
    return this.#killShare;
  }

  /**
   * Records a limit kill at `now`; returns the period (ms) if it put the function in quarantine.
   * `ofRequest` is false for work after the response (a timer, waitUntil): its request was
   * already counted as answered, and now counts as killed instead.
   */
  strike(now: number, o: QuarantineOptions, ofRequest = true): number | undefined {
    if (ofRequest || this.#seen === 0) {
      if (this.#seen < SHARE_SPAN) this.#seen++;
      this.#killShare += (1 - this.#killShare) / this.#seen;
    } else {
      this.#killShare = Math.min(1, this.#killShare + 1 / this.#seen);
    }
    // A kill while still in quarantine is of a request let in before it began: not a re-offence,
    // nor a strike towards the next (one request that had fanned out 100 service-binding calls,
    // all killed at their wall clock together, took the quarantine from 1 s to 60 s at once).
    if (now < this.until) return undefined;
    // Forgiven after a quiet spell of forgiveAfterMs, counted from its last strike or from the
    // end of its last quarantine (a quarantine has no strikes: it refuses the requests).
    if (now - Math.max(this.#lastStrike, this.#endedAt) > o.forgiveAfterMs) this.#periodMs = 0;
    this.#lastStrike = now;
    this.#strikes = this.#strikes.filter((t) => now - t < o.windowMs);
    this.#strikes.push(now);
    const onProbation = this.#periodMs > 0;
    if (!onProbation && this.#strikes.length < o.strikes) return undefined;
    if (this.#killShare < o.minKillShare) return undefined;
    this.#strikes = [];
    this.#periodMs = this.#periodMs === 0 ? o.baseMs : Math.min(o.maxMs, this.#periodMs * 2);
    this.until = now + this.#periodMs;
    this.#endedAt = this.until;
    this.count++;
    return this.#periodMs;
  }

  /** Whole seconds left (at least 1), for Retry-After. */
  retryAfterS(now: number): number {
    return Math.max(1, Math.ceil((this.until - now) / 1000));
  }
}
