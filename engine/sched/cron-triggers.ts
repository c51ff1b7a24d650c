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
  // Each is a timer and, when due, a run with its own CPU limit: a thousand identical ones were
  // taken, and would have run the handler a thousand times a minute. (Workers allow 5 a script.)
  if (crons.length > MAX_CRONS) throw new ConfigError(`"crons" lists ${crons.length} expressions; a function may have at most ${MAX_CRONS}`);
  if (new Set(crons).size !== crons.length) throw new ConfigError('"crons" lists the same expression twice');
  for (const cron of crons) {
    try {
      CronExpressionParser.parse(cron);
    } catch (err) {
      throw new ConfigError(`cron expression ${JSON.stringify(cron)} is not valid: ${(err as Error).message}`);
    }
  }
  return crons as string[];
}

/** Cron triggers a function may have. */
const MAX_CRONS = 32;

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
