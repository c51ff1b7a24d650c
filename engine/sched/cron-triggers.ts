// Cron triggers: each function's cron expressions ("*/5 * * * *"; a sixth, leading field is
// seconds) fire its scheduled handler at the next matching time, in the engine's time zone (UTC
// unless TZ says otherwise). One timer per expression, re-armed after each run.
import { CronExpressionParser } from 'cron-parser';
import { ConfigError } from '../errors.ts';

// setTimeout cannot wait longer than 2^31-1 ms; longer waits are done in steps.
const MAX_DELAY_MS = 2 ** 31 - 1;

/** Throws ConfigError naming the first expression that does not parse. */
export function checkCrons(crons: unknown): string[] {
  if (crons === undefined) return [];
  if (!Array.isArray(crons) || !crons.every((c) => typeof c === 'string')) throw new ConfigError('"crons" must be a list of cron expressions');
  for (const cron of crons) {
    try {
      CronExpressionParser.parse(cron);
    } catch (err) {
      throw new ConfigError(`cron expression ${JSON.stringify(cron)} is not valid: ${(err as Error).message}`);
    }
  }
  return crons as string[];
}

export class CronTriggers {
  readonly #timers = new Map<string, NodeJS.Timeout[]>();

  /** Replaces `name`'s triggers; `fire(cron, scheduledTime)` runs at each matching time. */
  set(name: string, crons: string[], fire: (cron: string, scheduledTime: number) => void): void {
    this.clear(name);
    const timers: NodeJS.Timeout[] = [];
    this.#timers.set(name, timers);
    crons.forEach((cron, i) => {
      const arm = () => {
        const next = CronExpressionParser.parse(cron, { currentDate: new Date() }).next().getTime();
        const wait = (at: number) => {
          const delay = at - Date.now();
          timers[i] = setTimeout(() => {
            if (at - Date.now() > 0) return wait(at);
            fire(cron, at);
            arm();
          }, Math.min(Math.max(0, delay), MAX_DELAY_MS));
          timers[i]!.unref();
        };
        wait(next);
      };
      arm();
    });
  }

  clear(name: string): void {
    for (const t of this.#timers.get(name) ?? []) clearTimeout(t);
    this.#timers.delete(name);
  }

  close(): void {
    for (const name of [...this.#timers.keys()]) this.clear(name);
  }
}
