// `islet tail <function>`: follows a function's logs live through the admin API's NDJSON stream.
import { ConfigError } from '../engine/index.ts';
import { parse, UsageError } from './args.ts';

export const tailHelp = `Usage: islet tail <function> [options]

Follows a function's logs live on a running islet serve: one line per request (status,
duration, CPU ms) and the function's console output. Ends when the server goes away.

Options:
  --url <url>           the server (default http://127.0.0.1:8787)
  --admin-token <t>     bearer token for the admin API (or ISLET_ADMIN_TOKEN)
  --json                print the JSON lines as they come instead of readable lines
  -h, --help            show this help`;

export async function tail(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    url: { type: 'string' },
    'admin-token': { type: 'string' },
    json: { type: 'boolean' },
  }, 'tail');
  if (values.help) {
    console.log(tailHelp);
    return;
  }
  if (positionals.length !== 1) throw new UsageError('name one function to follow.\nRun "islet tail --help" for usage.');
  const name = positionals[0]!;
  const base = (values.url as string | undefined) ?? 'http://127.0.0.1:8787';
  const token = (values['admin-token'] as string | undefined) ?? process.env.ISLET_ADMIN_TOKEN ?? '';
  let url: URL;
  try {
    url = new URL(`/_islet/functions/${encodeURIComponent(name)}/logs`, base);
  } catch {
    throw new UsageError(`--url must be a URL like http://127.0.0.1:8787, got "${base}"`);
  }
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  } catch (err) {
    throw new ConfigError(`cannot reach ${url.origin}: ${(err as Error).cause ?? (err as Error).message}`);
  }
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    throw new ConfigError(`${url.origin} answered ${res.status}: ${body.message ?? res.statusText}`);
  }
  let pending = '';
  try {
    for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line) console.log(values.json ? line : readable(line));
      }
    }
  } catch (err) {
    // The server (or its engine) went away mid-stream: say so in a line, not a stack.
    throw new ConfigError(`${url.origin} closed the log stream: ${(err as Error).cause ?? (err as Error).message}`);
  }
  // Ended by the server, as it does when it shuts down: not a silent exit the operator has to guess at.
  console.error(`islet tail: ${url.origin} ended the log stream of "${name}" (the server is shutting down)`);
}

/**
 * "12:00:01.123 info  request status=200 ms=0.41 cpuMs=0.02". A message of several lines, and an
 * exception's stack, go on below it, each line behind a margin: readable as lines, and no line a
 * tenant wrote can pass for a log line of its own.
 */
function readable(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, fn: _fn, msg, stack, ...fields } = record;
  const at = new Date(Number(time)).toISOString().slice(11, 23);
  const [first = '', ...more] = String(msg).split('\n');
  if (typeof stack === 'string') more.push(...stack.split('\n'));
  else if (stack !== undefined) fields.stack = stack;
  const rest = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? printable(v) : JSON.stringify(v)}`).join(' ');
  const below = more.map((l) => `\n${CONTINUED}${printable(l)}`).join('');
  return `${at} ${String(level).padEnd(5)} ${printable(first)}${rest ? ` ${rest}` : ''}${below}`;
}

/** The margin before a record's further lines. */
const CONTINUED = '             | ';

/**
 * A tenant's words with control characters escaped: a newline would start what looks like a log
 * line of its own, and an escape sequence would reach the operator's terminal.
 */
function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
