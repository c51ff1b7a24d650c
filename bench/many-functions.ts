// Throughput when the load is spread over many functions, each in its own isolate: `islet serve`
// with N small JSON functions under autocannon (every request to the next function in turn),
// with islet's gate on calls into isolates (engine/tiers/isolate/run-slots.ts) and without it
// (ISLET_ISOLATE_SLOTS=0), side by side in one run: req/s, latency, server CPU per request and the
// server's RSS at the end. `npm run bench:functions`; a benchmark, not a test.
import autocannon from 'autocannon';
import { benchArgs, emitReport, runAsScript } from './bench-cli.ts';
import { everyHostInTurn, jsonFunctions, startIslet } from './islet-server.ts';
import { medianBy } from './percentile.ts';
import { sized, TINY_LOAD } from './scale.ts';
import { cpuMicros } from './servers.ts';

const help = `Usage: npm run bench:functions -- [options]

Options:
  --functions <list>    comma-separated function counts (default 1,10,50,200)
  --duration <s>        measured seconds per run (default 10)
  --warmup <s>          unmeasured seconds before each measurement (default 3)
  --connections <n>     concurrent connections (default 100)
  --rounds <n>          alternate gated and ungated runs this many times, keep the median (default 1)
  --json <file>         also write the report as JSON to this file
  -h, --help            show this help`;

const MODES = [
  { mode: 'gated (default)', env: {} },
  { mode: 'no gate', env: { ISLET_ISOLATE_SLOTS: '0' } },
] as const;

interface Row {
  functions: number;
  mode: string;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerReq: number;
  rssMb: number;
  non2xx: number;
  errors: number;
}

function load(url: string, hosts: string[], connections: number, duration: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration, ...TINY_LOAD, requests: everyHostInTurn(hosts) }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

async function measure(count: number, mode: (typeof MODES)[number], o: { connections: number; duration: number; warmup: number }): Promise<Row> {
  const functions = jsonFunctions(count);
  const names = Object.keys(functions);
  const server = await startIslet(functions, names[0]!, undefined, mode.env);
  try {
    const hosts = names.map((n) => server.host(n));
    if (o.warmup > 0) await load(server.url, hosts, o.connections, o.warmup);
    const cpuBefore = await cpuMicros(server.pid);
    const result = await load(server.url, hosts, o.connections, o.duration);
    const cpu = (await cpuMicros(server.pid)) - cpuBefore;
    return {
      functions: count, mode: mode.mode,
      reqPerSec: Math.round(result.requests.average), p50Ms: result.latency.p50, p99Ms: result.latency.p99,
      cpuUsPerReq: Number((cpu / Math.max(1, result.requests.total)).toFixed(1)),
      rssMb: Math.round((await server.rssBytes()) / 1048576),
      non2xx: result.non2xx, errors: result.errors + result.timeouts,
    };
  } finally {
    await server.stop();
  }
}

export async function manyFunctions(args: string[]): Promise<unknown> {
  const parsed = benchArgs(args, {
    duration: Number(sized('10', '1')), warmup: Number(sized('3', '0.5')), connections: 100, rounds: 1,
  }, help, { functions: sized('1,10,50,200', '1,10') });
  if (!parsed) return undefined;
  const { duration, warmup, connections, rounds } = parsed.numbers as Record<'duration' | 'warmup' | 'connections' | 'rounds', number>;
  const counts = parsed.strings.functions!.split(',').map(Number);
  for (const n of counts) if (!Number.isInteger(n) || n < 1) throw new Error(`--functions: "${parsed.strings.functions}" is not a list of positive whole numbers`);
  const rows: Row[] = [];
  for (const count of counts) {
    const runs = new Map<string, Row[]>(MODES.map((m) => [m.mode, []]));
    for (let round = 0; round < rounds; round++) {
      // Alternate which mode goes first, so that neither always meets a warmer machine.
      const order = round % 2 === 0 ? MODES : [...MODES].reverse();
      for (const mode of order) {
        const row = await measure(count, mode, { connections, duration, warmup });
        console.error(`${count} functions, ${mode.mode}: ${row.reqPerSec} req/s, p99 ${row.p99Ms} ms, ${row.cpuUsPerReq} µs/req, RSS ${row.rssMb} MB`);
        runs.get(mode.mode)!.push(row);
      }
    }
    const gated = medianBy(runs.get(MODES[0].mode)!, (r) => r.reqPerSec);
    const ungated = medianBy(runs.get(MODES[1].mode)!, (r) => r.reqPerSec);
    rows.push(gated, ungated);
    console.error(`${count} functions: gated / no gate = ${(gated.reqPerSec / Math.max(1, ungated.reqPerSec)).toFixed(2)}× req/s`);
  }
  console.table(rows);
  return await emitReport({ bench: 'many-functions', date: new Date().toISOString(), connections, durationS: duration, rounds, rows }, parsed.json);
}

runAsScript(import.meta.url, manyFunctions);
