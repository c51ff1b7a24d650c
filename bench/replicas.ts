// Replicas spread CPU-bound work over cores: the same CPU-bound function with maxReplicas 1 and
// with 2, under the same autocannon load, side by side. Prints req/s, latency, the replicas the
// function had under load, and the ratio. A benchmark, not a test: `npm run bench:replicas`.
import { parsePrometheus } from '../cli/bench/prometheus.ts';
import autocannon from 'autocannon';
import { benchArgs, emitReport, runAsScript } from './bench-cli.ts';
import { counterBy, startIslet } from './islet-server.ts';
import { cpuMicros } from './servers.ts';

const help = `Usage: npm run bench:replicas -- [options]

Options:
  --duration <s>       measured seconds per function per round (default 10)
  --connections <n>    concurrent connections (default 8)
  --work-ms <n>        CPU each request burns, in ms (default 5)
  --rounds <n>         alternate the two this many times, keep the median (default 1)
  --json <file>        also write the results as JSON to this file
  -h, --help           show this help`;

interface Row {
  maxReplicas: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  replicasUnderLoad: number;
  /** Server CPU time per second of load: how many cores the work spread over. */
  serverCores: number;
  /** Answers that were not 2xx, by status, and connection errors. */
  refused: Record<string, number>;
  errors: number;
}

export async function replicasBench(args: string[]): Promise<unknown> {
  const parsed = benchArgs(args, { duration: 10, connections: 8, 'work-ms': 5, rounds: 1 }, help);
  if (!parsed) return undefined;
  const { duration, connections, 'work-ms': workMs, rounds } = parsed.numbers as Record<'duration' | 'connections' | 'work-ms' | 'rounds', number>;
  // Burns `workMs` of CPU with arithmetic, not by watching a clock, so each request is the same work.
  const code = `const SPINS = ${Math.round(workMs * 200_000)};
    export default { fetch() { let x = 0; for (let i = 0; i < SPINS; i++) x = (x * 31 + i) | 0; return new Response(String(x)) } }`;
  const limits = (maxReplicas: number) => ({ maxReplicas, concurrency: 64, cpuMs: 10_000 });
  // Admission control off: this measures what replicas do for throughput, not shedding on a busy machine.
  const server = await startIslet({ one: { code, limits: limits(1) }, two: { code, limits: limits(2) } }, 'one', { maxEventLoopLagMs: 60_000 });
  try {
    const samples: Record<string, Row[]> = { one: [], two: [] };
    for (let round = 0; round < rounds; round++) {
      for (const fn of ['one', 'two'] as const) {
        await autocannon({ url: server.url, connections, duration: Math.min(2, duration), headers: { host: server.host(fn) } }); // warm-up (and scale-out)
        let replicas = 0;
        const watch = setInterval(async () => {
          for (const s of parsePrometheus(await server.admin('metrics'))) {
            if (s.name === 'islet_replicas' && s.labels.function === fn) replicas = Math.max(replicas, s.value);
          }
        }, 500);
        const before = counterBy(await server.admin('metrics'), 'islet_requests_total', 'status');
        const cpuBefore = await cpuMicros(server.pid);
        const r = await autocannon({ url: server.url, connections, duration, headers: { host: server.host(fn) } });
        clearInterval(watch);
        const serverCores = Number(((await cpuMicros(server.pid)) - cpuBefore) / 1e6 / duration).toFixed(2);
        const after = counterBy(await server.admin('metrics'), 'islet_requests_total', 'status');
        const refused = Object.fromEntries(Object.entries(after).filter(([s]) => s !== '200').map(([s, n]) => [s, n - (before[s] ?? 0)]).filter(([, n]) => Number(n) > 0));
        samples[fn]!.push({
          // Only successful answers count: a refusal is cheaper than the work.
          maxReplicas: fn === 'one' ? 1 : 2, reqPerSec: Math.round(r['2xx'] / duration), p50Ms: r.latency.p50, p99Ms: r.latency.p99,
          replicasUnderLoad: replicas, serverCores: Number(serverCores), refused, errors: r.errors + r.timeouts,
        });
      }
    }
    const median = (rows: Row[]) => [...rows].sort((a, b) => a.reqPerSec - b.reqPerSec)[Math.floor(rows.length / 2)]!;
    const rows = [median(samples.one!), median(samples.two!)];
    const ratio = Number((rows[1]!.reqPerSec / Math.max(1, rows[0]!.reqPerSec)).toFixed(2));
    console.table(rows);
    console.log(`2 replicas / 1 replica: ${ratio}× the throughput`);
    const report = { bench: 'replicas', date: new Date().toISOString(), durationS: duration, connections, workMs, rounds, rows, ratio };
    return await emitReport(report, parsed.json);
  } finally {
    await server.stop();
  }
}

runAsScript(import.meta.url, replicasBench);
