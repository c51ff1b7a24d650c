// `npm run bench`: every benchmark in turn, each in its own process (so one's heap, isolates and
// servers never colour the next), collected into bench/results/latest.json and latest.md.
// A benchmark takes part by printing its report as the last JSON line on stdout, with a `rows`
// array, and by honouring ISLET_BENCH_TINY=1 (bench/scale.ts). Add it to BENCHMARKS below; a
// file that is not there yet is skipped with a note.
import { spawn } from 'node:child_process';
import { access, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { markdownSummary } from './summary.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface Benchmark {
  name: string;
  /** Relative to bench/. */
  file: string;
  about: string;
}

export const BENCHMARKS: Benchmark[] = [
  { name: 'throughput', file: 'throughput.ts', about: 'hello on islet, bare node:http, Hono, a naive isolated-vm server and workerd: req/s, latency, server CPU per request' },
  { name: 'peers', file: 'peers.ts', about: 'hello and 2 KB JSON on node:http, Hono on Node, workerd and islet, interleaved rounds, ratios to node:http' },
  { name: 'coldstart', file: 'coldstart.ts', about: 'first request to a function whose isolate is not running: plain boot, snapshot, code cache, template pool' },
  { name: 'function-snapshot', file: 'function-snapshot.ts', about: 'a snapshot per function (made in a child process) against the template pool' },
  { name: 'many-functions', file: 'many-functions.ts', about: 'hello-sized JSON spread over 1 to 200 functions, with and without the gate on calls into isolates' },
  { name: 'density', file: 'density.ts', about: 'host memory per idle warm tenant' },
  { name: 'keepalive', file: 'keepalive.ts', about: 'keep-alive policies replayed on an Azure-shaped trace: cold starts vs memory-time' },
  { name: 'accel', file: 'accel.ts', about: 'the accelerator pool' },
  { name: 'tiers', file: 'tiers.ts', about: 'isolation tiers side by side' },
  { name: 'noisy-neighbour', file: 'noisy-neighbour.ts', about: 'one tenant\'s latency while another hogs the host' },
];

const TIMEOUT_MS = { full: 60 * 60_000, tiny: 3 * 60_000 };

export type BenchmarkResult =
  | { status: 'ok'; about: string; seconds: number; report: Record<string, unknown> & { rows?: unknown } }
  | { status: 'failed'; about: string; seconds: number; error: string }
  | { status: 'skipped'; about: string; reason: string };

export interface SuiteResults {
  date: string;
  tiny: boolean;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; platform: string };
  benchmarks: Record<string, BenchmarkResult>;
}

const help = `Usage: npm run bench -- [options]

Runs every benchmark in bench/ one after another, each in its own process, and writes
<out-dir>/latest.json and latest.md. Each also runs alone: npm run bench:<name>.

Options:
  --only <list>      comma-separated names (${BENCHMARKS.map((b) => b.name).join(', ')})
  --tiny             a second or a handful of functions each: proves they run; do not quote
  --out-dir <dir>    where to write the results (default bench/results)
  -h, --help         show this help`;

export async function suite(args: string[]): Promise<SuiteResults | undefined> {
  const { values } = parseArgs({
    args,
    options: { only: { type: 'string' }, tiny: { type: 'boolean' }, 'out-dir': { type: 'string', default: path.join(HERE, 'results') }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(help);
    return undefined;
  }
  const names = values.only?.split(',');
  for (const n of names ?? []) if (!BENCHMARKS.some((b) => b.name === n)) throw new Error(`unknown benchmark "${n}" (known: ${BENCHMARKS.map((b) => b.name).join(', ')})`);
  const tiny = values.tiny === true;
  const results: SuiteResults = {
    date: new Date().toISOString(),
    tiny,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.versions.node, platform: `${os.platform()} ${os.release()}` },
    benchmarks: {},
  };
  for (const b of BENCHMARKS.filter((x) => !names || names.includes(x.name))) {
    console.error(`\n== ${b.name} ==`);
    results.benchmarks[b.name] = await runOne(b, tiny);
    const r = results.benchmarks[b.name]!;
    console.error(`== ${b.name}: ${r.status === 'skipped' ? `skipped (${r.reason})` : `${r.status} in ${r.seconds} s`}`);
  }
  await mkdir(values['out-dir'], { recursive: true });
  await writeFile(path.join(values['out-dir'], 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  const summary = markdownSummary(results);
  await writeFile(path.join(values['out-dir'], 'latest.md'), summary);
  console.log(summary);
  console.error(`wrote ${path.join(values['out-dir'], 'latest.json')} and latest.md`);
  if (Object.values(results.benchmarks).some((r) => r.status === 'failed')) process.exitCode = 1;
  return results;
}

async function runOne(b: Benchmark, tiny: boolean): Promise<BenchmarkResult> {
  const file = path.join(HERE, b.file);
  try {
    await access(file);
  } catch {
    return { status: 'skipped', about: b.about, reason: `bench/${b.file} is not there yet` };
  }
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 100) / 10;
  const child = spawn(process.execPath, ['--no-node-snapshot', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...(tiny && { ISLET_BENCH_TINY: '1' }) },
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk;
    process.stderr.write(chunk); // its table, for the person watching; our stdout stays quiet
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), tiny ? TIMEOUT_MS.tiny : TIMEOUT_MS.full);
  // 'close': after the last of stdout was read ('exit' may come first and cut the report short).
  const code = await new Promise<number | null>((resolve) => child.once('close', (c, signal) => resolve(signal ? null : c)));
  clearTimeout(timer);
  if (code !== 0) return { status: 'failed', about: b.about, seconds: seconds(), error: code === null ? 'killed (timed out)' : `exited with code ${code}` };
  const report = lastJsonLine(stdout);
  if (!report) return { status: 'failed', about: b.about, seconds: seconds(), error: 'printed no JSON report line' };
  return { status: 'ok', about: b.about, seconds: seconds(), report };
}

/** The benchmark's report: the last stdout line that is a JSON object. */
export function lastJsonLine(text: string): Record<string, unknown> | undefined {
  for (const line of text.trim().split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const value: unknown = JSON.parse(line);
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // a table row or log line that happens to start with a brace
    }
  }
  return undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  suite(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
