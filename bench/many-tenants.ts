// Many warm tenants on one machine behind `islet serve --workers N`: deploy T hello tenants
// through the admin API (each lands on its home engine), request every one of them twice (the
// first boots nothing: deploys boot the isolate; the second proves it is still warm and
// answering), then report errors, live isolates and RSS per tenant: the sum of the engines' RSS
// divided by T, and the same with the supervisor and the standby engine included.
// A benchmark, not a test: `npm run bench:tenants -- --tenants 10000 --workers 8`.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, request } from '../engine/gateway/test-http.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'bench-token';
const HELLO = 'export default { fetch: () => new Response("Hello World!") }';

function rssBytes(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Runs `task(i)` for i in [0, n) with `concurrency` in flight; counts the ones that return false. */
async function pool(n: number, concurrency: number, task: (i: number) => Promise<boolean>): Promise<number> {
  let next = 0;
  let failed = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) if (!(await task(next++).catch(() => false))) failed++;
  }));
  return failed;
}

export async function manyTenants(args: string[]) {
  const { values } = parseArgs({ args, options: {
    tenants: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '32' },
  } });
  const tenants = Number(values.tenants);
  const workers = Number(values.workers);
  const concurrency = Number(values.concurrency);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--no-node-snapshot', path.join(ROOT, 'cli/islet.js'), 'serve', '--port', String(port), '--admin-token', TOKEN, '--workers', String(workers)], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ISLET_LOG_LEVEL: 'warn' },
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  /** 200, or what went wrong (status and islet-error). */
  const get = (host: string) => new Promise<number | string>((resolve, reject) => {
    http.get({ hostname: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? 200 : `${res.statusCode} ${res.headers['islet-error']}`));
    }).on('error', reject);
  });
  try {
    for (let i = 0; ; i++) {
      if ((await request(url, { path: '/_islet/status', headers: { authorization: `Bearer ${TOKEN}` } }).catch(() => undefined))?.status === 200) break;
      if (i > 600) throw new Error('islet serve did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const started = performance.now();
    const body = JSON.stringify({ code: HELLO });
    const deployFailures = await pool(tenants, concurrency, async (i) => {
      const res = await request(url, { method: 'PUT', path: `/_islet/functions/t${i}`, headers: { authorization: `Bearer ${TOKEN}` }, body });
      if (res.status !== 201) console.error(`t${i}: ${res.status} ${res.text.slice(0, 200)}`);
      return res.status === 201;
    });
    const deploySeconds = (performance.now() - started) / 1000;
    const passes = [];
    for (let pass = 0; pass < 2; pass++) {
      const t0 = performance.now();
      const errors = await pool(tenants, concurrency, async (i) => {
        const status = await get(`t${i}.localhost`).catch((err: Error) => err.message);
        if (status !== 200) console.error(`pass ${pass + 1}, t${i}: ${status}`);
        return status === 200;
      });
      passes.push({ errors, seconds: (performance.now() - t0) / 1000 });
    }
    const status = (await request(url, { path: '/_islet/status', headers: { authorization: `Bearer ${TOKEN}` } })).json();
    const enginePids: number[] = status.engines.map((e: { pid: number }) => e.pid);
    const engineRss = enginePids.reduce((sum, pid) => sum + rssBytes(pid), 0);
    // Everything islet runs: the supervisor and every child (the engines and the standby).
    const all = [child.pid!, ...readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number)];
    const totalRss = all.reduce((sum, pid) => sum + rssBytes(pid), 0);
    const row = {
      tenants,
      workers,
      deployFailures,
      deploySeconds: +deploySeconds.toFixed(1),
      pass1Errors: passes[0]!.errors,
      pass2Errors: passes[1]!.errors,
      pass2Seconds: +passes[1]!.seconds.toFixed(1),
      liveIsolates: status.liveIsolates,
      engineRssMb: Math.round(engineRss / 1048576),
      mbPerTenant: +(engineRss / tenants / 1048576).toFixed(2),
      mbPerTenantAllProcesses: +(totalRss / tenants / 1048576).toFixed(2),
    };
    console.table([row]);
    console.log(JSON.stringify({ bench: 'many-tenants', date: new Date().toISOString(), row, engines: status.engines.map((e: Record<string, unknown>) => ({ functions: e.functions, liveIsolates: e.liveIsolates, rssMb: e.rssMb })) }));
    return row;
  } finally {
    agent.destroy();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  manyTenants(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
