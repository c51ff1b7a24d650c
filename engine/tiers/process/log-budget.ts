// Console lines from a process sandbox, rate-limited on the host as the isolate runtime does in
// the isolate (runtime-api/host/console.ts): writing a log line costs the host more CPU than the
// tenant spends asking for it. A token bucket; dropped lines are counted in the next that passes.
import { CONSOLE_BURST_LINES, CONSOLE_LINES_PER_SECOND } from '../../limits.ts';
import type { TenantLog } from '../tier.ts';

export class LogBudget {
  #tokens = CONSOLE_BURST_LINES;
  #refilledAt = 0;
  #dropped = 0;

  line(log: TenantLog, level: string, message: string, now = Date.now()): void {
    this.#tokens = Math.min(CONSOLE_BURST_LINES, this.#tokens + ((now - this.#refilledAt) / 1000) * CONSOLE_LINES_PER_SECOND);
    this.#refilledAt = now;
    if (this.#tokens < 1) {
      this.#dropped++;
      return;
    }
    this.#tokens--;
    if (this.#dropped) {
      log.console('warn', `console: ${this.#dropped} line(s) dropped (limit: ${CONSOLE_BURST_LINES} at once, ${CONSOLE_LINES_PER_SECOND} a second)`);
      this.#dropped = 0;
    }
    log.console(level, message);
  }
}
