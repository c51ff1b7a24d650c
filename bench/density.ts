// Host memory per idle warm tenant: deploy N copies of a fixture in one engine process, send each
// `--requests` requests (default 1), then read the process's RSS; then let every isolate run its
// idle collection (what the engine does a minute after a function's last request) and read it
// again. Each (fixture, N) runs in a fresh child process.
// A benchmark, not a test: `node --no-node-snapshot bench/density.ts [--counts 1000,3000] [--requests 1]`.
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleEntry } from '../engine/bundle/index.ts';
import { Engine, FixedTtlPolicy } from '../engine/index.ts';
import { sized } from './scale.ts';

const FIXTURES: Record<string, string> = {
  hello: fileURLToPath(new URL('../fixtures/hello/index.ts', import.meta.url)),
  'hono-app': fileURLToPath(new URL('../fixtures/hono-app/index.ts', import.meta.url)),
};

/** Idle collections wait this long in the child; the bench's sweeps pretend it has passed. */
const IDLE_GC_AFTER_MS = 3_600_000;

/** In the child: deploy `count` tenants of `fixture`, send each `requests`, print one JSON line. */
async function measure(fixture: string, count: number, requests: number): Promise<void> {
  const { code } = await bundleEntry(FIXTURES[fixture]!);
  // The engine's own cap applies (it keeps the process under its memory-mapping budget); past
  // it, tenants are evicted and RSS is divided by the isolates actually alive. Templates off so
  // only tenants are counted. Nothing is unloaded or collected until the bench asks.
  const engine = new Engine({ templates: false, idleGcAfterMs: IDLE_GC_AFTER_MS, keepAlive: new FixedTtlPolicy(2 * IDLE_GC_AFTER_MS) });
  await engine.deploy('warmup', { code });
  global.gc?.();
  const before = process.memoryUsage().rss;
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    await engine.deploy(`t${i}`, { code });
    for (let r = 0; r < requests; r++) {
      const res = await engine.fetch(`t${i}`, new Request(`http://t${i}.test/`));
      if (res.status !== 200) throw new Error(`t${i}: ${res.status} ${await res.text()}`);
    }
  }
  await new Promise((r) => setTimeout(r, 100)); // evicted isolates are disposed a moment later
  const rss = process.memoryUsage().rss;
  const deploySeconds = +((performance.now() - started) / 1000).toFixed(1);
  await engine.undeploy('warmup');
  const live = engine.liveCount;
  // Sweeps start a few collections each; wait until every live isolate has had one.
  while (engine.stats().reclaims < live) {
    engine.sweep(Date.now() + IDLE_GC_AFTER_MS);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 500));
  const collected = process.memoryUsage().rss;
  const perTenant = (bytes: number) => +((bytes - before) / live / 1048576).toFixed(2);
  console.log(JSON.stringify({
    fixture, tenants: count, requestsEach: requests, liveIsolates: live,
    rssMb: Math.round(rss / 1048576), mbPerTenant: perTenant(rss), mbPerTenantAfterIdleGc: perTenant(collected), deploySeconds,
  }));
  process.exit(0);
}

export async function density(args: string[]) {
  const { values } = parseArgs({
    args,
    options: { counts: { type: 'string', default: sized('1000,3000', '3') }, requests: { type: 'string', default: '1' }, json: { type: 'string' } },
  });
  const rows = [];
  for (const fixture of Object.keys(FIXTURES)) {
    for (const count of values.counts.split(',').map(Number)) {
      const out = execFileSync(process.execPath, ['--no-node-snapshot', '--expose-gc', fileURLToPath(import.meta.url), '--child', fixture, String(count), values.requests], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      const row = JSON.parse(out.trim().split('\n').pop()!);
      console.error(JSON.stringify(row));
      rows.push(row);
    }
  }
  console.table(rows);
  const report = { bench: 'density', date: new Date().toISOString(), rows };
  console.log(JSON.stringify(report));
  if (values.json) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const main = process.argv[2] === '--child' ? measure(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5])) : density(process.argv.slice(2));
  main.catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
