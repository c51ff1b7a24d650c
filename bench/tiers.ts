// The isolation tiers side by side: per tier, the cold start (first request to a function whose
// sandbox is not running, at the HTTP client) from a template and booted from nothing, the raw
// start of its boundary (Node started and exited directly, or inside bubblewrap, for
// comparison), and warm latency and req/s through the same gateway. A microVM boots for seconds,
// so it gets at most VM_COLD_ROUNDS cold starts of each kind, and each template cold start waits
// until the pool has a booted VM ready. A benchmark, not a test:
//   node --no-node-snapshot bench/tiers.ts [--cold 20] [--requests 2000] [--duration 5]
//     [--container-runtime bubblewrap|runc|crun] [--tiers isolate,process,…] [--json out.json]
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { ContainerTier, Engine, GvisorTier, MicrovmTier, ProcessTier, createGateway, serveGateway, type ContainerRuntime, type IsolationTier, type TierName, TIER_NAMES } from '../engine/index.ts';
import { bubblewrapArgs } from '../engine/tiers/container/index.ts';
import { findExecutable } from '../engine/tiers/host-binaries.ts';
import { emitReport, runAsScript } from './bench-cli.ts';
import { percentile } from './percentile.ts';

const HELLO = fileURLToPath(new URL('../fixtures/hello/index.ts', import.meta.url));
const DAY_MS = 86_400_000;
const VM_COLD_ROUNDS = 5;
const TEMPLATE_WAIT_MS = 60_000;

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}

/** One GET on a kept-alive connection, timed. */
function timedGet(agent: http.Agent, port: number, host: string): Promise<{ ms: number; status: number; body: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk));
      res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** Node started and exited the way the tier starts it, without islet: the floor for its cold start. */
function rawStartMs(tier: TierName, runtime: ContainerRuntime, rounds: number): number | undefined {
  const node = process.execPath;
  let command: string;
  let args: string[];
  if (tier === 'process') [command, args] = [node, ['-e', '0']];
  else if (tier === 'container' && runtime === 'bubblewrap') [command, args] = [findExecutable('bwrap')!, bubblewrapArgs({ node, nodeArgs: ['-e', '0'], readable: [], network: false })];
  else return undefined;
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    spawnSync(command, args, { env: {}, stdio: 'ignore' });
    times.push(performance.now() - started);
  }
  return median(times);
}

/** Waits until `tier` has a blank sandbox ready in its template pool (or gives up after a while). */
async function templateReady(tier: IsolationTier): Promise<void> {
  const deadline = Date.now() + TEMPLATE_WAIT_MS;
  const ready = () => ((tier.status?.().templates ?? []) as { ready: number }[]).some((s) => s.ready > 0);
  while (!ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

/**
 * Cold starts of `name`: each round unloads every idle sandbox, then times one request; with
 * `waitFor`, only once that tier has a template ready (the first round still finds none).
 */
async function coldStarts(engine: Engine, port: number, name: string, rounds: number, waitFor?: IsolationTier): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const cold: number[] = [];
  for (let i = 0; i < rounds; i++) {
    engine.sweep(Date.now() + DAY_MS);
    // Let the unloaded sandbox's exit and the template refill settle before timing.
    await new Promise((r) => setTimeout(r, 50));
    if (waitFor && i > 0) await templateReady(waitFor);
    const { ms, status, body } = await timedGet(agent, port, `${name}.localhost`);
    if (status !== 200) throw new Error(`${name}: cold request answered ${status}: ${body}`);
    cold.push(ms);
  }
  agent.destroy();
  return cold.sort((a, b) => a - b);
}

/**
 * Limits for the functions measured: latency is what is measured, and a cold request charged more
 * than its own work (gVisor's Sentry starting, a VM's first run of each code path) must not turn a
 * sample into an error (a loaded run's gVisor cold starts went past 17 ms of the default 50).
 */
const MEASURED = { cpuMs: 1_000 };

/** The same tiers with nothing booted ahead: every cold start starts a sandbox from scratch. */
async function bootColdStarts(tier: TierName, runtime: ContainerRuntime, rounds: number): Promise<number[]> {
  const off = { templates: false } as const;
  const engine = new Engine({ ...off, tiers: [new ProcessTier(off), new ContainerTier({ ...off, runtime }), new GvisorTier(off), new MicrovmTier(off)] });
  const served = await serveGateway(createGateway(engine), { port: 0, host: '127.0.0.1' });
  try {
    await engine.deploy(`boot-${tier}`, { entry: HELLO, tier, limits: MEASURED });
    return await coldStarts(engine, served.port, `boot-${tier}`, rounds);
  } finally {
    await served.close();
    await engine.close();
  }
}

export async function benchTiers(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      cold: { type: 'string', default: '20' },
      requests: { type: 'string', default: '2000' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '10' },
      'container-runtime': { type: 'string', default: 'bubblewrap' },
      tiers: { type: 'string', default: TIER_NAMES.join(',') },
      json: { type: 'string' },
    },
  });
  const coldRounds = Number(values.cold);
  const requests = Number(values.requests);
  const seconds = Number(values.duration);
  const connections = Number(values.connections);
  const runtime = values['container-runtime'] as ContainerRuntime;
  const extra: IsolationTier[] = [new ProcessTier(), new ContainerTier({ runtime }), new GvisorTier(), new MicrovmTier()];
  const engine = new Engine({ tiers: extra });
  const served = await serveGateway(createGateway(engine), { port: 0, host: '127.0.0.1' });
  const rows: Record<string, unknown>[] = [];
  const skipped: Record<string, string> = {};
  try {
    const wanted = values.tiers.split(',');
    for (const tier of (['isolate', ...extra.map((t) => t.name)] as TierName[]).filter((t) => wanted.includes(t))) {
      const label = tier === 'container' ? `container (${runtime})` : tier;
      const missing = extra.find((t) => t.name === tier)?.unavailable();
      if (missing) {
        skipped[label] = missing;
        console.error(`skipping ${tier}: ${missing}`);
        continue;
      }
      const name = `hello-${tier}`;
      const host = `${name}.localhost`;
      await engine.deploy(name, { entry: HELLO, tier, limits: MEASURED });
      const vm = tier === 'microvm';
      const rounds = vm ? Math.min(coldRounds, VM_COLD_ROUNDS) : coldRounds;
      const cold = await coldStarts(engine, served.port, name, rounds, vm ? extra.find((t) => t.name === tier) : undefined);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const warm: number[] = [];
      for (let i = 0; i < requests; i++) warm.push((await timedGet(agent, served.port, host)).ms);
      agent.destroy();
      warm.sort((a, b) => a - b);
      const load = await autocannon({ url: served.url, connections, duration: seconds, headers: { host } });
      const raw = rawStartMs(tier, runtime, coldRounds);
      const boot = await bootColdStarts(tier, runtime, rounds);
      const row = {
        tier: label,
        coldP50Ms: +percentile(cold, 0.5).toFixed(1),
        coldP99Ms: +percentile(cold, 0.99).toFixed(1),
        bootColdP50Ms: +percentile(boot, 0.5).toFixed(1),
        rawStartMs: raw === undefined ? null : +raw.toFixed(1),
        warmP50Ms: +percentile(warm, 0.5).toFixed(3),
        warmP99Ms: +percentile(warm, 0.99).toFixed(3),
        reqPerSec: Math.round(load.requests.average),
        errors: load.errors + load.non2xx,
      };
      rows.push(row);
      console.error(JSON.stringify(row));
      await engine.undeploy(name);
    }
  } finally {
    await served.close();
    await engine.close();
  }
  const isolate = rows.find((r) => r.tier === 'isolate');
  for (const row of rows) {
    if (isolate) row.warmOverheadMs = +((row.warmP50Ms as number) - (isolate.warmP50Ms as number)).toFixed(3);
  }
  console.table(rows);
  const report = { bench: 'tiers', containerRuntime: runtime, coldRounds, requests, seconds, connections, date: new Date().toISOString(), rows, skipped };
  return emitReport(report, values.json);
}

runAsScript(import.meta.url, benchTiers);
