// A sandbox's console lines, rate-limited and cut to length on the host: writing a log line costs
// the host more CPU (and, while its output is slow, memory) than the tenant spends asking for it.
// The runtimes limit lines too, before they cross (runtime-api/host/console.ts), but they run in
// the tenant's realm, on clocks and string methods the tenant can replace: this is the limit that
// holds. A token bucket on the host's clock; dropped lines are counted in the next that passes.
import { CONSOLE_BURST_LINES, CONSOLE_LINE_CHARS, CONSOLE_LINES_PER_SECOND } from '../limits.ts';
import type { TenantLog } from './tier.ts';

export class LogBudget {
  #tokens = CONSOLE_BURST_LINES;
  #refilledAt = 0;
  #dropped = 0;

  /**
   * One line of `level`. `rewrite` (a stack's mapping to the sources) runs on what passes, after
   * the cut: the host spends nothing more on a line it drops, and a bounded time on one it keeps.
   */
  line(log: TenantLog, level: string, message: string, now = Date.now(), rewrite?: (text: string) => string): void {
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
    const cut = message.length > CONSOLE_LINE_CHARS;
    const kept = cut ? message.slice(0, CONSOLE_LINE_CHARS) : message;
    const shown = rewrite ? rewrite(kept) : kept;
    log.console(level, cut ? `${shown}… (${message.length - CONSOLE_LINE_CHARS} more characters)` : shown);
  }
}
