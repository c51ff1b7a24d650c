// `islet bench` flags: parsed once into a typed BenchOptions, with every default in one place.
// Bad input is a UsageError naming the flag, so the CLI exits 2 with a one-line message.
import { readFile } from 'node:fs/promises';
import { intFlag, parse, UsageError, type Options } from '../args.ts';

/** The methods autocannon can send. */
const BENCH_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];

/** One leg of an open-model ramp: the arrival rate moves linearly to `targetRps` over `durationS`. */
export interface Stage {
  durationS: number;
  targetRps: number;
}

export interface BenchOptions {
  urls: string[];
  /** Concurrent connections (closed model), or the connection pool size (open model). */
  connections: number;
  durationS: number;
  /** Seconds of load before the measured window; never counted. */
  warmupS: number;
  method: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** Per-request timeout; a request past it counts as a timeout error. */
  timeoutS: number;
  /** Open model: a fixed arrival rate (requests/s). */
  rateRps: number | undefined;
  /** Open model: a ramp of arrival rates; starts from `rateRps` (or 0). */
  stages: Stage[] | undefined;
  /** Coordinated-omission correction (open model): latency counted from the intended send time. */
  correction: boolean;
  /** Load-generator threads, each with its own histograms, merged at the end. */
  workers: number;
  json: boolean;
  out: string | undefined;
  chart: string | undefined;
  fixture: string | undefined;
  assert: string | undefined;
  adminToken: string | undefined;
}

export const BENCH_DEFAULTS = {
  connections: 50,
  durationS: 10,
  warmupS: 3,
  method: 'GET',
  timeoutS: 10,
  workers: 1,
} as const;

export const benchHelp = `Usage: islet bench <url>... [options]
       islet bench --fixture <name> [path]... [options]
       islet bench --compare <a.json> <b.json>

Load-tests HTTP endpoints (any server, not only islet) with autocannon and prints req/s,
throughput, latency percentiles and errors. Several URLs get a per-route breakdown.

Load:
  -c, --connections <n>   concurrent connections (default ${BENCH_DEFAULTS.connections})
  -d, --duration <t>      measured time: 10, 10s, 500ms, 2m (default ${BENCH_DEFAULTS.durationS}s)
  --warmup <t>            load before the measurement, not counted (default ${BENCH_DEFAULTS.warmupS}s)
  -m, --method <verb>     HTTP method (default ${BENCH_DEFAULTS.method})
  -H, --header <k=v>      request header, repeatable (k: v also accepted)
  --body <file>           request body from a file
  --url-file <file>       more URLs (or paths, with --fixture), one a line: per-route rows
  --timeout <t>           per-request timeout, counted as an error (default ${BENCH_DEFAULTS.timeoutS}s)
  --workers <n>           load-generator threads, histograms merged exactly (default 1):
                          when the load generator saturates its core

Open model (fixed arrival rate instead of as-fast-as-possible):
  --rate <r>              send r requests/s whatever the server does
  --stages <list>         ramp the rate: 10s:100,30s:1000 (linear from --rate, or 0)
  --uncorrected           latency from the actual send, not the intended one (no
                          coordinated-omission correction; both are shown by default)

Output:
  --json                  print one JSON document instead of the table
  --out <file>            also write the JSON document to a file (for --compare)
  --chart <file.svg>      latency over time and latency distribution, as SVG
  --assert <list>         CI gate, e.g. 'p99<5ms,errors=0,rps>20000': exit 1 with the reason
  --compare <a> <b>       two --out files side by side, ratios and 95% bootstrap intervals

Targets:
  --fixture <name>        start islet serve with fixtures/<name> on a free port, bench it
                          (paths after it: /greeting?name=x), then stop it
  --admin-token <t>       token for the server's /_islet/metrics (or ISLET_ADMIN_TOKEN):
                          adds the server's CPU, heap, cold starts and limit kills
  -h, --help              show this help`;

const FLAGS: Options = {
  connections: { type: 'string', short: 'c' },
  duration: { type: 'string', short: 'd' },
  warmup: { type: 'string' },
  method: { type: 'string', short: 'm' },
  header: { type: 'string', short: 'H', multiple: true },
  body: { type: 'string' },
  timeout: { type: 'string' },
  rate: { type: 'string' },
  stages: { type: 'string' },
  uncorrected: { type: 'boolean' },
  workers: { type: 'string' },
  json: { type: 'boolean' },
  out: { type: 'string' },
  chart: { type: 'string' },
  assert: { type: 'string' },
  compare: { type: 'string' },
  'url-file': { type: 'string' },
  fixture: { type: 'string' },
  'admin-token': { type: 'string' },
};

export type BenchCommand =
  | { kind: 'help' }
  | { kind: 'compare'; a: string; b: string; json: boolean }
  | { kind: 'run'; options: BenchOptions };

export async function parseBenchArgs(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<BenchCommand> {
  const { values, positionals } = parse(args, FLAGS, 'bench');
  if (values.help) return { kind: 'help' };
  const str = (k: string) => values[k] as string | undefined;
  if (str('compare') !== undefined) {
    if (positionals.length !== 1) throw new UsageError('--compare needs two files: islet bench --compare a.json b.json');
    return { kind: 'compare', a: str('compare')!, b: positionals[0]!, json: values.json === true };
  }
  const fixture = str('fixture');
  if (fixture !== undefined && !/^[a-z0-9][a-z0-9-]*$/.test(fixture)) throw new UsageError(`--fixture must be a fixture folder name, got "${fixture}"`);
  const listed = str('url-file') === undefined ? [] : await readUrlFile(str('url-file')!);
  const targets = [...positionals, ...listed];
  const urls = fixture === undefined ? targets.map(checkUrl) : targets.map(checkPath);
  if (fixture === undefined && urls.length === 0) throw new UsageError('islet bench needs a URL (or --fixture <name>).\nRun "islet bench --help" for usage.');
  const rateRps = str('rate') === undefined ? undefined : positiveNumber(str('rate')!, 'rate');
  const stages = str('stages') === undefined ? undefined : parseStages(str('stages')!);
  const bodyFile = str('body');
  const body = bodyFile === undefined ? undefined : await readFlagFile(bodyFile, 'body');
  const durationS = stages ? stages.reduce((s, x) => s + x.durationS, 0) : parseDurationS(str('duration') ?? String(BENCH_DEFAULTS.durationS), 'duration');
  const connections = intFlag(str('connections'), 'connections', 1, 10_000) ?? BENCH_DEFAULTS.connections;
  const workers = intFlag(str('workers'), 'workers', 1, 64) ?? BENCH_DEFAULTS.workers;
  if (workers > connections) throw new UsageError(`--workers (${workers}) cannot exceed --connections (${connections}): each thread needs a connection`);
  if (stages && str('duration') !== undefined) throw new UsageError('--duration and --stages both set the length of the run: give one');
  const method = (str('method') ?? BENCH_DEFAULTS.method).toUpperCase();
  // autocannon sends these only, and threw its own stack at any other once the run began.
  if (!BENCH_METHODS.includes(method)) throw new UsageError(`--method must be one of ${BENCH_METHODS.join(', ')}, got "${method}"`);
  return {
    kind: 'run',
    options: {
      urls,
      connections,
      durationS,
      warmupS: str('warmup') === undefined ? BENCH_DEFAULTS.warmupS : parseDurationS(str('warmup')!, 'warmup', true),
      method,
      headers: parseHeaders((values.header as string[] | undefined) ?? []),
      body,
      timeoutS: str('timeout') === undefined ? BENCH_DEFAULTS.timeoutS : parseDurationS(str('timeout')!, 'timeout'),
      rateRps,
      stages,
      correction: values.uncorrected !== true,
      workers,
      json: values.json === true,
      out: str('out'),
      chart: str('chart'),
      fixture,
      assert: str('assert'),
      adminToken: str('admin-token') ?? env.ISLET_ADMIN_TOKEN,
    },
  };
}

/** "10" and "10s" are seconds; "500ms" and "2m" say their unit. */
export function parseDurationS(text: string, flag: string, allowZero = false): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * ({ ms: 0.001, s: 1, m: 60 }[m[2] ?? 's'] ?? 1) : NaN;
  if (!(seconds > 0 || (allowZero && seconds === 0)) || seconds > 86_400) throw new UsageError(`--${flag} must be a duration like 10, 10s, 500ms or 2m, got "${text}"`);
  return seconds;
}

/** "10s:100,30s:1000": ramp to 100 req/s over 10 s, then to 1000 req/s over 30 s. */
export function parseStages(text: string): Stage[] {
  return text.split(',').map((part) => {
    const [duration, target, extra] = part.split(':');
    if (duration === undefined || target === undefined || extra !== undefined) throw new UsageError(`--stages: "${part}" is not duration:rate (e.g. 10s:100)`);
    return { durationS: parseDurationS(duration, 'stages'), targetRps: nonNegativeNumber(target, 'stages') };
  });
}

export function parseHeaders(list: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const item of list) {
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(item);
    if (!m) throw new UsageError(`--header must be name=value, got "${item}"`);
    headers[m[1]!.toLowerCase()] = m[2]!;
  }
  return headers;
}

/** One URL (or, with --fixture, one path) a line; blank lines and # comments skipped. */
async function readUrlFile(file: string): Promise<string[]> {
  const text = (await readFlagFile(file, 'url-file')).toString('utf8');
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

async function readFlagFile(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new UsageError(`--${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function checkUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`not a URL: "${text}" (give http://host:port/path)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`only http and https URLs can be benchmarked, got "${text}"`);
  return url.href;
}

function checkPath(text: string): string {
  if (!text.startsWith('/')) throw new UsageError(`with --fixture, give paths (like /greeting), got "${text}"`);
  return text;
}

function positiveNumber(text: string, flag: string): number {
  const n = nonNegativeNumber(text, flag);
  if (n === 0) throw new UsageError(`--${flag} must be above 0`);
  return n;
}

function nonNegativeNumber(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 10_000_000) throw new UsageError(`--${flag} must be a number of requests per second, got "${text}"`);
  return n;
}
