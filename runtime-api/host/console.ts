// `console` for tenant code: every call becomes one line in the host log, tagged with its level.
import { host } from './host-calls.ts';
import { formatLogArgs, inspect } from './inspect.ts';

function emit(level: string, args: unknown[]): void {
  host().log(level, formatLogArgs(args));
}

const counts = new Map<string, number>();
const timers = new Map<string, number>();

export const console = {
  log: (...args: unknown[]) => emit('info', args),
  info: (...args: unknown[]) => emit('info', args),
  debug: (...args: unknown[]) => emit('debug', args),
  trace: (...args: unknown[]) => emit('debug', [...args, new Error('console.trace').stack?.split('\n').slice(2).join('\n')]),
  warn: (...args: unknown[]) => emit('warn', args),
  error: (...args: unknown[]) => emit('error', args),
  assert: (condition?: unknown, ...args: unknown[]) => {
    if (!condition) emit('error', ['Assertion failed', ...args]);
  },
  dir: (value: unknown) => emit('info', [inspect(value, 0)]),
  table: (value: unknown) => emit('info', [value]),
  count: (label = 'default') => {
    const n = (counts.get(label) ?? 0) + 1;
    counts.set(label, n);
    emit('info', [`${label}: ${n}`]);
  },
  countReset: (label = 'default') => void counts.delete(label),
  // Date.now() is coarse in an isolate (as in workerd): timings here are honest but not precise.
  time: (label = 'default') => void timers.set(label, Date.now()),
  timeLog: (label = 'default', ...args: unknown[]) => {
    const start = timers.get(label);
    if (start !== undefined) emit('info', [`${label}: ${Date.now() - start}ms`, ...args]);
  },
  timeEnd: (label = 'default') => {
    const start = timers.get(label);
    timers.delete(label);
    if (start !== undefined) emit('info', [`${label}: ${Date.now() - start}ms`]);
  },
  group: (...args: unknown[]) => { if (args.length) emit('info', args); },
  groupEnd: () => {},
};
