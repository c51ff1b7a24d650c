// Exit after a memory-limit kill, many times: start `islet serve`, have a tenant killed at its
// memory limit, send SIGTERM at once, and record how the process ended. A process that exited
// right after such a kill used to crash in native teardown (SIGSEGV) in 17 of 40 runs.
// Not a test: `npm run soak:shutdown -- [--runs 40] [--modes supervised,in-process]`.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, request } from '../engine/gateway/test-http.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

async function once(config: string, mode: string): Promise<string> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const flags = mode === 'in-process' ? ['--in-process'] : [];
  const child = spawn(process.execPath, ['--no-node-snapshot', path.join(ROOT, 'cli/islet.js'), 'serve', '--config', config, '--port', String(port), ...flags], {
    stdio: ['ignore', process.env.SOAK_LOG ? 'inherit' : 'ignore', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ISLET_LOG_LEVEL: process.env.SOAK_LOG ?? 'silent' },
  });
  const exited = new Promise<string>((r) => child.once('exit', (code, signal) => r(signal ?? `exit ${code}`)));
  for (let i = 0; ; i++) {
    const res = await request(url, { host: 'bomb.localhost' }).catch(() => undefined);
    if (res) {
      if (res.headers['islet-error'] !== 'memory-limit') throw new Error(`expected a memory-limit kill, got ${res.status}`);
      break;
    }
    if (i > 400) throw new Error('islet serve did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGTERM');
  return exited;
}

export async function shutdownSoak(args: string[]) {
  const { values } = parseArgs({ args, options: { runs: { type: 'string', default: '40' }, modes: { type: 'string', default: 'supervised,in-process' } } });
  const dir = await mkdtemp(path.join(tmpdir(), 'islet-soak-'));
  const config = path.join(dir, 'islet.config.json');
  await writeFile(config, JSON.stringify({ functions: { bomb: { entry: path.join(ROOT, 'fixtures/memory-bomb/index.js'), limits: { memoryMb: 16, cpuMs: 5000 } } } }));
  const rows = [];
  try {
    for (const mode of values.modes.split(',')) {
      const outcomes: Record<string, number> = {};
      for (let run = 0; run < Number(values.runs); run++) {
        const outcome = await once(config, mode);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
      console.error(mode, outcomes);
      rows.push({ mode, runs: Number(values.runs), clean: outcomes['exit 0'] ?? 0, outcomes: JSON.stringify(outcomes) });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.table(rows);
  console.log(JSON.stringify({ bench: 'shutdown-soak', date: new Date().toISOString(), rows }));
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  shutdownSoak(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
