// Would a snapshot per function (runtime and tenant code both evaluated in it) start a function
// faster than the template pool (a blank isolate from the runtime snapshot, specialised with the
// tenant's code from its code cache)? isolated-vm's createSnapshot runs code without isolation, so
// each function's snapshot is made in a child process of its own, as islet would have to.
//
// Per function (a ~100 KB bundle): the snapshot's size and the time to make it; then, in turns,
// the cold start each way, both measured in this process up to the tenant's first answer:
// - template pool: IsolateTier.start (takes a pooled blank isolate, loads the code from its
//   cache) and the first request through the runtime's dispatch;
// - function snapshot: a new isolate from the function's snapshot, a context, and the tenant's
//   fetch called directly (the runtime's own start-up and dispatch left out, so this is a floor).
// A benchmark, not a test: `node --no-node-snapshot bench/function-snapshot.ts [--functions 50]`.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import ivm from 'isolated-vm';
import { bundleSource, runtimeScript } from '../engine/bundle/index.ts';
import { createOutboundFetch } from '../engine/egress/index.ts';
import { DEFAULT_LIMITS } from '../engine/limits.ts';
import { IsolateTier } from '../engine/tiers/isolate/index.ts';
import type { SandboxSpec } from '../engine/tiers/index.ts';
import { CodeCache } from '../engine/warm/index.ts';
import { emitReport, runAsScript } from './bench-cli.ts';
import { percentile } from './percentile.ts';
import { functionOfSize } from './coldstart.ts';
import { sized } from './scale.ts';

// Run by a child process per function: the only place tenant code meets createSnapshot.
const MAKE_SNAPSHOT = `
  import ivm from 'isolated-vm';
  import { readFileSync, writeFileSync } from 'node:fs';
  const [runtimeFile, tenantFile, out] = process.argv.slice(1);
  const started = performance.now();
  const blob = ivm.Isolate.createSnapshot([
    { code: readFileSync(runtimeFile, 'utf8'), filename: 'islet:runtime' },
    { code: 'globalThis.__islet_tenant = ' + readFileSync(tenantFile, 'utf8'), filename: 'file:///tenant.js' },
  ]);
  writeFileSync(out, Buffer.from(blob.copy()));
  console.log(JSON.stringify({ ms: performance.now() - started }));
`;

const request = { method: 'GET', url: 'http://f.test/', headers: [], body: null };

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: +percentile(sorted, 0.5).toFixed(2), p99: +percentile(sorted, 0.99).toFixed(2) };
}

export async function functionSnapshot(args: string[]) {
  const { values } = parseArgs({ args, options: { functions: { type: 'string', default: sized('50', '2') }, json: { type: 'string' } } });
  const n = Number(values.functions);
  const dir = await mkdtemp(path.join(tmpdir(), 'islet-fn-snapshot-'));
  const runtimeFile = path.join(dir, 'runtime.js');
  await writeFile(runtimeFile, await runtimeScript());
  const tier = new IsolateTier({ codeCache: new CodeCache() });
  const log = { console() {}, event() {} };
  const made: number[] = [];
  const sizes: number[] = [];
  const pool: number[] = [];
  const snapshot: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const bundle = await bundleSource(functionOfSize(100 * 1024, `f${i}`), `f${i}`, { format: 'script' });
      const spec: SandboxSpec = { name: `f${i}`, code: bundle.code, format: bundle.format, codeKey: CodeCache.key(bundle.code), limits: DEFAULT_LIMITS, env: {}, outbound: createOutboundFetch(), log };
      // Deployed: loaded once, which leaves its code cache, as a deploy does.
      (await tier.start(spec)).stop();

      const tenantFile = path.join(dir, `f${i}.js`);
      const blobFile = path.join(dir, `f${i}.snapshot`);
      await writeFile(tenantFile, bundle.code);
      const child = execFileSync(process.execPath, ['--no-node-snapshot', '--input-type=module', '-e', MAKE_SNAPSHOT, runtimeFile, tenantFile, blobFile], { encoding: 'utf8', cwd: process.cwd() });
      made.push(JSON.parse(child.trim()).ms);
      const blob = await readFile(blobFile);
      sizes.push(blob.byteLength);
      const fnSnapshot = new ivm.ExternalCopy(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));

      await new Promise((r) => setTimeout(r, 30)); // the pool refills its template meanwhile
      let t = performance.now();
      const sandbox = await tier.start(spec);
      const answer = await sandbox.invoke(request);
      pool.push(performance.now() - t);
      if (answer.status !== 200) throw new Error(`template pool: f${i} answered ${answer.status}`);
      sandbox.stop();

      await new Promise((r) => setTimeout(r, 30));
      t = performance.now();
      const isolate = new ivm.Isolate({ memoryLimit: DEFAULT_LIMITS.memoryMb, snapshot: fnSnapshot });
      const context = await isolate.createContext();
      const status = await context.evalClosure('return globalThis.__islet_tenant.default.fetch(new Request("http://f.test/")).status', [], { result: { copy: true } });
      snapshot.push(performance.now() - t);
      if (status !== 200) throw new Error(`function snapshot: f${i} answered ${status}`);
      context.release();
      isolate.dispose();
      fnSnapshot.release();
    }
  } finally {
    // Waits for the template a refill may still be creating, then a moment for isolated-vm to
    // finish disposing on its own threads: exiting meanwhile crashed it now and then under load
    // (`environment != nullptr` failed, after the report was out).
    await tier.close();
    await new Promise((r) => setTimeout(r, 100));
    await rm(dir, { recursive: true, force: true });
  }
  const rows = [
    { start: 'template pool + code cache (through the runtime)', ...summary(pool) },
    { start: 'function snapshot (floor: boot and one call)', ...summary(snapshot) },
  ];
  console.table(rows);
  const madeSummary = summary(made);
  const sizeMb = +(sizes.reduce((a, b) => a + b, 0) / sizes.length / 1048576).toFixed(2);
  console.log(`a function's snapshot: ${sizeMb} MB, made in ${madeSummary.p50} ms (p50, in its own process)`);
  return emitReport({ bench: 'function-snapshot', functions: n, date: new Date().toISOString(), snapshotMb: sizeMb, snapshotMakeMs: madeSummary, rows }, values.json);
}

// Ends the process once the report is out: isolated-vm's teardown of isolates made from a
// function's snapshot failed an assertion at exit now and then under load (`environment !=
// nullptr`), after the report, which the suite then counted as a failed run.
runAsScript(import.meta.url, async (args) => {
  await functionSnapshot(args);
  process.exit(0);
});
