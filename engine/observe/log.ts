// Host logging with pino: JSON lines for `islet serve` (cheap, machine-readable), a readable
// single-line form for `islet dev`. Tenant console output goes through here tagged with `fn`.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { ConfigError } from '../errors.ts';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Human-readable output for a terminal (islet dev). */
  pretty?: boolean;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env.ISLET_LOG_LEVEL ?? 'info';
  // pino throws its own stack at an unknown level: say what is wrong and what would do.
  if (!LEVELS.includes(level)) throw new ConfigError(`ISLET_LOG_LEVEL must be one of ${LEVELS.join(', ')}, got "${level}"`);
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
  // pino writes asynchronously: lines wait in memory while stdout is slower than the engine
  // logs (a reader that stalls, a pipe that fills). Bounded, they are dropped past 64 MB and
  // counted, instead of growing the engine until it dies (a probe got 2 GB that way).
  const destination = pino.destination({ dest: 1, sync: false, maxLength: LOG_BUFFER_BYTES });
  let dropped = 0;
  destination.on('drop', () => void dropped++);
  const logger = pino({ level, base: undefined }, destination);
  setInterval(() => {
    if (dropped === 0) return;
    logger.warn({ dropped }, 'log lines dropped: stdout was slower than the engine wrote them');
    dropped = 0;
  }, 5_000).unref();
  return logger;
}

/** Log output the engine holds while stdout takes it; past it, lines are dropped and counted. */
const LOG_BUFFER_BYTES = 64 * 1024 * 1024;

/** A logger that drops everything, for library users who bring no logger. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
