// Throughput of hello on islet vs bare node:http (and workerd), side by side in one run:
// autocannon with 50 connections after a warm-up, then req/s, latency, server CPU per request,
// and each target's ratio to bare node:http. A benchmark, not a test: `npm run bench:throughput`.
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { cpuMicros, startTarget, TARGETS, type TargetName } from './servers.ts';
import { sized, TINY_LOAD } from './scale.ts';

const DEFAULT_TARGETS: TargetName[] = ['node', 'hono-node', 'naive-ivm', 'islet', 'workerd'];

export interface Row {
  target: string;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerReq: number;
  errors: number;
  non2xx: number;
  ratioToNode: number;
}

const help = `Usage: npm run bench:throughput -- [options]

Load-tests hello on each target with autocannon and prints a table and JSON.

Options:
  --targets <list>     comma-separated from node, hono-node, naive-ivm, islet (supervised), islet-proxy,
                       islet-in-process, islet-workers-2, workerd (default node, hono-node,
                       naive-ivm, islet, workerd; npm run bench:supervisor compares the islet modes)
  --duration <s>       measured seconds per target per round (default 10)
  --warmup <s>         unmeasured seconds before each measurement (default 3)
  --connections <n>    concurrent connections (default 50)
  --rounds <n>         alternate the targets this many times and keep the median (default 1)
  --fixture <name>     fixture to serve (default hello)
  --json <file>        also write the results as JSON to this file
  -h, --help           show this help`;

export async function bench(args: string[]): Promise<Row[]> {
  const { values } = parseArgs({
    args,
    options: {
      targets: { type: 'string', default: sized(DEFAULT_TARGETS.join(','), 'node,islet') },
      duration: { type: 'string', default: sized('10', '1') },
      warmup: { type: 'string', default: sized('3', '0') },
      connections: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '1' },
      fixture: { type: 'string', default: 'hello' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(help);
    return [];
  }
  const targets = values.targets.split(',') as TargetName[];
  for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`unknown target "${t}" (known: ${TARGETS.join(', ')})`);
  const duration = Number(values.duration);
  const warmup = Number(values.warmup);
  const connections = Number(values.connections);
  const rounds = Number(values.rounds);

  const samples = new Map<string, Omit<Row, 'ratioToNode'>[]>();
  for (let round = 0; round < rounds; round++) {
    for (const name of targets) {
      const target = await startTarget(name, values.fixture);
      try {
        await load(target.url, target.host, connections, warmup);
        const cpuBefore = await cpuMicros(target.pid);
        const result = await load(target.url, target.host, connections, duration);
        const cpuUsed = (await cpuMicros(target.pid)) - cpuBefore;
        const row = {
          target: name,
          reqPerSec: Math.round(result.requests.average),
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          cpuUsPerReq: Number((cpuUsed / Math.max(1, result.requests.total)).toFixed(1)),
          errors: result.errors + result.timeouts,
          non2xx: result.non2xx,
        };
        samples.set(name, [...(samples.get(name) ?? []), row]);
        console.error(`round ${round + 1}/${rounds} ${name}: ${row.reqPerSec} req/s, ${row.cpuUsPerReq} µs CPU/req`);
      } finally {
        await target.stop();
      }
    }
  }

  const medians = [...samples.values()].map((rows) => medianBy(rows, (r) => r.reqPerSec));
  const node = medians.find((r) => r.target === 'node');
  const rows: Row[] = medians.map((r) => ({ ...r, ratioToNode: node ? Number((r.reqPerSec / node.reqPerSec).toFixed(3)) : NaN }));
  console.table(rows);
  const report = { bench: 'throughput', fixture: values.fixture, connections, durationS: duration, rounds, date: new Date().toISOString(), rows };
  console.log(JSON.stringify(report));
  if (values.json) {
    await mkdir(fileURLToPath(new URL('.', `file://${values.json}`)), { recursive: true });
    await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  return rows;
}

function load(url: string, host: string, connections: number, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url, connections, duration: seconds, headers: { host }, ...TINY_LOAD });
}

function medianBy<T>(rows: T[], key: (r: T) => number): T {
  return [...rows].sort((a, b) => key(a) - key(b))[Math.floor(rows.length / 2)]!;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  bench(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
