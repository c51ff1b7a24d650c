// `console` for tenant code: every call becomes one line in the host log, tagged with its level.
// Lines are rate-limited here, before they cross to the host: writing a log line costs the host
// more CPU than the tenant spends asking for it, and that CPU is not the tenant's to spend.
import { cut } from '../dispatch/describe.ts';
import { host } from './host-calls.ts';
import { formatLogArgs, inspect } from './inspect.ts';

/** Token bucket: a burst of BURST lines, then PER_SECOND lines a second. */
const BURST = 200;
const PER_SECOND = 100;
let tokens = BURST;
let refilledAt = 0;
let dropped = 0;
// Taken at load: a tenant that replaces Date.now gets past this limit no faster than the host's.
// So is everything else the limit and the cut below use (describe.ts's cut takes slice at load),
// and they call no method the tenant can replace: a probe that replaced Math.min (which this used)
// and String.prototype.slice sent 1,000 lines of 1 MB before the host could refuse one, 2 GB of
// its heap, and four such requests at once ended the host process.
const clock = Date.now;
/** The host keeps 16 KB of a line (CONSOLE_LINE_CHARS); a little more goes, so that it marks the cut. */
const MAX_LINE = 16 * 1024 + 64;

function emit(level: string, args: unknown[]): void {
  const now = clock();
  const refilled = tokens + ((now - refilledAt) / 1000) * PER_SECOND;
  tokens = refilled < BURST ? refilled : BURST;
  refilledAt = now;
  if (!(tokens >= 1)) {
    dropped++;
    return;
  }
  tokens--;
  if (dropped) {
    host().log('warn', `console: ${dropped} line(s) dropped (limit: ${BURST} at once, ${PER_SECOND} a second)`);
    dropped = 0;
  }
  const line = formatLogArgs(args);
  host().log(level, typeof line !== 'string' ? '' : cut(line, MAX_LINE));
}

/** An uncaught error's line (reportError, a timer's exception), under the same limit as console's. */
export function logUncaught(text: string): void {
  emit('error', [text]);
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
  // Console Standard: a value that is no DOM node prints as log would print it.
  dirxml: (...args: unknown[]) => emit('info', args),
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
  // A log line has no collapsed state to show.
  groupCollapsed: (...args: unknown[]) => { if (args.length) emit('info', args); },
  groupEnd: () => {},
  // A log is append-only: there is no screen to clear.
  clear: () => {},
};
