// Recovery after an engine crash: `islet serve` with N deployed functions (half from the config,
// half through the admin API), then SIGKILL of the engine process and the time until a function
// deployed through the admin API answers 200 again, measured at the client. Repeated, since each
// round kills the engine the previous one started.
// A benchmark, not a test: `npm run bench:recovery -- [--functions 100] [--rounds 5]`.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, request } from '../engine/gateway/test-http.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'bench-token';

export async function recovery(args: string[]) {
  const { values } = parseArgs({ args, options: { functions: { type: 'string', default: '100' }, rounds: { type: 'string', default: '5' }, workers: { type: 'string', default: '1' } } });
  const count = Number(values.functions);
  const dir = await mkdtemp(path.join(tmpdir(), 'islet-recovery-'));
  const functions: Record<string, unknown> = {};
  for (let i = 0; i < count / 2; i++) functions[`cfg${i}`] = { entry: path.join(ROOT, 'fixtures/hello/index.ts') };
  await writeFile(path.join(dir, 'islet.config.json'), JSON.stringify({ functions }));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--no-node-snapshot', path.join(ROOT, 'cli/islet.js'), 'serve', '--config', path.join(dir, 'islet.config.json'), '--port', String(port), '--admin-token', TOKEN, '--workers', values.workers], {
    stdio: ['ignore', process.env.RECOVERY_LOG ? 'inherit' : 'ignore', 'inherit'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ISLET_LOG_LEVEL: process.env.RECOVERY_LOG ? 'info' : 'warn' },
  });
  try {
    await until(async () => (await request(url, { host: 'cfg0.localhost' })).status === 200, 60_000);
    const code = 'export default { fetch: (r) => new Response("admin " + new URL(r.url).pathname) }';
    for (let i = 0; i < count - count / 2; i++) {
      const res = await request(url, { method: 'PUT', path: `/_islet/functions/adm${i}`, headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ code }) });
      if (res.status !== 201) throw new Error(`deploy adm${i}: ${res.status} ${res.text}`);
    }
    const probe = `adm${Math.floor((count - count / 2) / 2)}.localhost`;
    const rows = [];
    for (let round = 0; round < Number(values.rounds); round++) {
      await new Promise((r) => setTimeout(r, 3_000)); // the standby engine boots again
      const status = (await request(url, { path: '/_islet/status', headers: { authorization: `Bearer ${TOKEN}` } })).json();
      const pid = status.engines[0].pid as number;
      const killedAt = performance.now();
      process.kill(pid, 'SIGKILL');
      let failures = 0;
      await until(async () => {
        const res = await request(url, { host: probe, path: '/x' }).catch(() => undefined);
        if (res?.status === 200 && res.text === 'admin /x') return true;
        failures++;
        return false;
      }, 30_000, 2);
      const ms = Math.round(performance.now() - killedAt);
      rows.push({ round: round + 1, functions: count, recoveryMs: ms, failedProbes: failures });
      console.error(`round ${round + 1}: ${ms} ms`);
    }
    console.table(rows);
    console.log(JSON.stringify({ bench: 'recovery', date: new Date().toISOString(), rows }));
    return rows;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`not ready within ${timeoutMs} ms`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  recovery(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
