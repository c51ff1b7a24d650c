// islet beside its peers: the same workloads (hello, and a 2 KB JSON document serialised per
// request) on bare node:http, Hono on Node, Cloudflare's workerd and islet. Every server is its
// own process, started once per workload; the rounds interleave the servers (rotating who goes
// first) so that a slow minute on a shared machine hits them all. Per server: req/s, p99 and the
// server's CPU per request from /proc/<pid>/stat, each the median over rounds, and the ratios to
// node:http. A benchmark, not a test: `npm run bench:peers [-- --rounds 5]`.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { sized, TINY_LOAD } from './scale.ts';
import { cpuMicros, startTarget, type Target, type TargetName } from './servers.ts';

const PEERS: TargetName[] = ['node', 'hono-node', 'workerd', 'islet'];
const WORKLOADS = ['hello', 'json-2k'];

export interface PeerRow {
  workload: string;
  peer: string;
  reqPerSec: number;
  p99Ms: number;
  cpuUsPerReq: number;
  /** req/s relative to node:http on the same workload (higher is better). */
  rpsVsNode: number;
  /** CPU per request relative to node:http (lower is better). */
  cpuVsNode: number;
  /** The load generator's CPU as a share of one core: near 100, it limits every peer alike. */
  generatorCpuPercent: number;
  errors: number;
}

export async function peers(args: string[]): Promise<PeerRow[]> {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: 'string', default: sized('10', '0.5') },
      warmup: { type: 'string', default: sized('3', '0') },
      connections: { type: 'string', default: '50' },
      rounds: { type: 'string', default: sized('3', '1') },
      peers: { type: 'string', default: PEERS.join(',') },
      workloads: { type: 'string', default: WORKLOADS.join(',') },
      json: { type: 'string' },
    },
  });
  const chosen = values.peers.split(',') as TargetName[];
  for (const p of chosen) if (!PEERS.includes(p)) throw new Error(`unknown peer "${p}" (known: ${PEERS.join(', ')})`);
  const workloads = values.workloads.split(',');
  for (const w of workloads) if (!WORKLOADS.includes(w)) throw new Error(`unknown workload "${w}" (known: ${WORKLOADS.join(', ')})`);
  const duration = Number(values.duration);
  const warmup = Number(values.warmup);
  const connections = Number(values.connections);
  const rounds = Number(values.rounds);

  const rows: PeerRow[] = [];
  for (const workload of workloads) {
    const servers: Target[] = [];
    try {
      for (const name of chosen) servers.push(await startTarget(name, workload));
      for (const s of servers) if (warmup > 0) await load(s, connections, warmup);
      const samples = new Map<string, Sample[]>(servers.map((s) => [s.name, []]));
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < servers.length; i++) {
          const server = servers[(i + round) % servers.length]!;
          const sample = await measure(server, connections, duration);
          samples.get(server.name)!.push(sample);
          console.error(`${workload} round ${round + 1}/${rounds} ${server.name}: ${Math.round(sample.reqPerSec)} req/s, ${sample.cpuUsPerReq.toFixed(1)} µs CPU/req`);
        }
      }
      const medians = chosen.map((peer) => ({ peer, ...medianSample(samples.get(peer)!) }));
      const node = medians.find((m) => m.peer === 'node');
      for (const m of medians) {
        rows.push({
          workload,
          peer: m.peer,
          reqPerSec: Math.round(m.reqPerSec),
          p99Ms: m.p99Ms,
          cpuUsPerReq: round1(m.cpuUsPerReq),
          rpsVsNode: node ? round3(m.reqPerSec / node.reqPerSec) : NaN,
          cpuVsNode: node ? round3(m.cpuUsPerReq / node.cpuUsPerReq) : NaN,
          generatorCpuPercent: Math.round(m.generatorCpuPercent),
          errors: m.errors,
        });
      }
    } finally {
      for (const s of servers) await s.stop();
    }
  }
  console.table(rows);
  const report = { bench: 'peers', connections, durationS: duration, warmupS: warmup, rounds, date: new Date().toISOString(), rows };
  console.log(JSON.stringify(report));
  if (values.json) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  return rows;
}

interface Sample {
  reqPerSec: number;
  p99Ms: number;
  cpuUsPerReq: number;
  generatorCpuPercent: number;
  errors: number;
}

async function measure(server: Target, connections: number, seconds: number): Promise<Sample> {
  const cpuBefore = await cpuMicros(server.pid);
  const generatorBefore = process.cpuUsage();
  const started = performance.now();
  const result = await load(server, connections, seconds);
  const generator = process.cpuUsage(generatorBefore);
  const wallMs = performance.now() - started;
  const cpuUsed = (await cpuMicros(server.pid)) - cpuBefore;
  const total = result.requests.total;
  return {
    reqPerSec: total / result.duration,
    p99Ms: result.latency.p99,
    cpuUsPerReq: cpuUsed / Math.max(1, total),
    generatorCpuPercent: ((generator.user + generator.system) / 1000 / wallMs) * 100,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

function load(server: Target, connections: number, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url: server.url, connections, duration: seconds, headers: { host: server.host }, ...TINY_LOAD });
}

/** Each measure's median on its own: the rounds are repeats, not paired observations. */
function medianSample(samples: Sample[]): Sample {
  const median = (key: keyof Sample) => {
    const sorted = samples.map((s) => s[key]).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  return { reqPerSec: median('reqPerSec'), p99Ms: median('p99Ms'), cpuUsPerReq: median('cpuUsPerReq'), generatorCpuPercent: median('generatorCpuPercent'), errors: samples.reduce((n, s) => n + s.errors, 0) };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  peers(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
