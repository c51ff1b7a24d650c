// Host logging with pino: JSON lines for `islet serve` (cheap, machine-readable), a readable
// single-line form for `islet dev`. Tenant console output goes through here tagged with `fn`.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Human-readable output for a terminal (islet dev). */
  pretty?: boolean;
}

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env.ISLET_LOG_LEVEL ?? 'info';
  if (options.pretty) {
    return pino(
      { level, base: undefined },
      pretty({
        sync: true,
        translateTime: 'HH:MM:ss.l',
        // "12:00:01.123 INFO: hello: the line" — the function's name leads, fields stay on one line.
        messageFormat: '{if fn}{fn}: {end}{msg}',
        ignore: 'pid,hostname,fn,src',
        singleLine: true,
      }),
    );
  }
  return pino({ level, base: undefined });
}

/** A logger that drops everything, for library users who bring no logger. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
