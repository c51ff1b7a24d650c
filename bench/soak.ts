// The soak: islet serve under autocannon at c=100 across 50 functions for 10 minutes, with
// hostile tenants (one spinning, one allocating until killed) every 30 s. Prints errors and the
// server's RSS over time, then whether RSS stayed flat after warm-up. `npm run soak`
// (`-- --duration 20 --interval 5` for a short run); never part of npm test.
import { parsePrometheus } from '../cli/bench/prometheus.ts';
import autocannon from 'autocannon';
import { benchArgs, emitReport, runAsScript } from './bench-cli.ts';
import { request } from '../engine/gateway/test-http.ts';
import { counterBy, everyHostInTurn, jsonFunctions, startIslet } from './islet-server.ts';

const help = `Usage: npm run soak -- [options]

Options:
  --duration <s>        how long (default 600)
  --connections <n>     concurrent connections (default 100)
  --functions <n>       functions the load is spread over (default 50)
  --interval <s>        seconds between samples (default 10)
  --hostile-every <s>   seconds between hostile bursts (default 30)
  --json <file>         also write the samples as JSON to this file
  -h, --help            show this help`;

interface Sample {
  atS: number;
  reqPerSec: number;
  non2xx: number;
  errors: number;
  rssMb: number;
  isolates: number;
}

/** RSS may grow this much after warm-up and still count as flat. */
const FLAT_GROWTH = 0.1;

export async function soak(args: string[]): Promise<unknown> {
  const parsed = benchArgs(args, { duration: 600, connections: 100, functions: 50, interval: 10, 'hostile-every': 30 }, help);
  if (!parsed) return undefined;
  const { duration, connections, functions: count, interval, 'hostile-every': hostileEvery } =
    parsed.numbers as Record<'duration' | 'connections' | 'functions' | 'interval' | 'hostile-every', number>;
  const functions: Record<string, unknown> = jsonFunctions(count);
  const names = Object.keys(functions);
  functions.spin = { code: 'export default { fetch() { for (;;) {} } }' };
  functions.alloc = { code: 'export default { fetch() { const a = []; for (;;) a.push(new Array(1e6).fill(1.5)); } }', limits: { memoryMb: 64, cpuMs: 5000 } };
  const server = await startIslet(functions, names[0]!);
  const hosts = names.map((n) => server.host(n));
  const samples: Sample[] = [];
  const hostile = { requests: 0, statuses: {} as Record<string, number> };
  let window = { ok: 0, non2xx: 0, errors: 0 };
  const started = performance.now();
  try {
    let finish!: (result: autocannon.Result) => void;
    let fail!: (err: unknown) => void;
    const finished = new Promise<autocannon.Result>((resolve, reject) => [finish, fail] = [resolve, reject]);
    const run = autocannon({
      url: server.url, connections, duration,
      requests: everyHostInTurn(hosts),
    }, (err, result) => (err ? fail(err) : finish(result)));
    run.on('response', (_client: unknown, status: number) => {
      if (status >= 200 && status < 300) window.ok++;
      else window.non2xx++;
    });
    run.on('reqError', () => window.errors++);
    const sampler = setInterval(async () => {
      const w = window;
      window = { ok: 0, non2xx: 0, errors: 0 };
      // Summed over engines: a supervised server labels each engine's samples.
      const isolates = parsePrometheus(await server.admin('metrics')).filter((m) => m.name === 'islet_isolates_alive').reduce((n, m) => n + m.value, 0);
      const sample = {
        atS: Math.round((performance.now() - started) / 1000), reqPerSec: Math.round((w.ok + w.non2xx) / interval),
        non2xx: w.non2xx, errors: w.errors, rssMb: Math.round((await server.rssBytes()) / 1048576), isolates,
      };
      samples.push(sample);
      console.error(`${String(sample.atS).padStart(5)} s  ${String(sample.reqPerSec).padStart(6)} req/s  non-2xx ${sample.non2xx}  errors ${sample.errors}  RSS ${sample.rssMb} MB  isolates ${isolates}`);
    }, interval * 1000);
    const burst = setInterval(() => {
      for (const fn of ['spin', 'alloc']) {
        for (let i = 0; i < 3; i++) {
          hostile.requests++;
          void request(server.url, { host: server.host(fn) }).then((r) => {
            hostile.statuses[r.status] = (hostile.statuses[r.status] ?? 0) + 1;
          }, () => {});
        }
      }
    }, hostileEvery * 1000);
    const result = await finished;
    clearInterval(sampler);
    clearInterval(burst);
    const warm = samples.filter((s) => s.atS >= Math.min(60, duration * 0.2));
    const first = warm[0]?.rssMb ?? 0;
    const last = warm.at(-1)?.rssMb ?? 0;
    const growth = first > 0 ? Number(((last - first) / first).toFixed(3)) : 0;
    const errors = result.errors + result.timeouts;
    // What the non-2xx answers were (shedding under overload, or hostile tenants' limits).
    const metrics = await server.admin('metrics');
    const statuses = counterBy(metrics, 'islet_requests_total', 'status');
    const shed = counterBy(metrics, 'islet_shed_total', 'reason');
    const limitKills = counterBy(metrics, 'islet_limit_kills_total', 'function');
    const summary = {
      requests: result.requests.total, reqPerSec: Math.round(result.requests.average), non2xx: result.non2xx, errors, statuses, shed, limitKills,
      rssAfterWarmupMb: first, rssEndMb: last, rssGrowth: growth, rssFlat: growth <= FLAT_GROWTH, hostile,
    };
    console.table(samples);
    console.table([summary].map(({ hostile: _h, statuses: _s, shed: _shed, limitKills: _k, ...s }) => s));
    console.log('answers by status (all functions):', statuses, 'refused by admission control:', shed, 'limit kills:', limitKills);
    const report = { bench: 'soak', date: new Date().toISOString(), durationS: duration, connections, functions: count, samples, summary };
    return await emitReport(report, parsed.json);
  } finally {
    await server.stop();
  }
}

runAsScript(import.meta.url, soak);
