// `islet serve` in a child process with a config written for the bench, for benches that need
// several functions (the noisy neighbour, replicas and soak benches).
import { spawn } from 'node:child_process';
import type autocannon from 'autocannon';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, request } from '../engine/gateway/test-http.ts';
import { cleanEnv, rssBytes, waitUntilServing } from './servers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BENCH_TOKEN = 'bench-token';

export interface IsletServer {
  url: string;
  port: number;
  pid: number;
  /** Host header for function `fn`. */
  host(fn: string): string;
  /** GET /_islet/<path> with the bench's admin token. */
  admin(path: string): Promise<string>;
  /** The server's resident memory now, supervisor and engines together, in bytes (from /proc). */
  rssBytes(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts islet serve with `functions` (config entries) and `sched` options; `probe` is a function
 * answering 200 on GET /; `env` is added to the server's environment.
 */
export async function startIslet(functions: Record<string, unknown>, probe: string, sched?: Record<string, unknown>, env: Record<string, string> = {}): Promise<IsletServer> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'islet-bench-'));
  const config = path.join(dir, 'islet.config.json');
  await writeFile(config, JSON.stringify({ functions, sched }));
  const child = spawn(process.execPath, ['--no-node-snapshot', path.join(ROOT, 'cli/islet.js'), 'serve', '--config', config, '--port', String(port), '--admin-token', BENCH_TOKEN], {
    stdio: 'ignore',
    env: { ...cleanEnv(), ISLET_LOG_LEVEL: 'warn', ...env },
  });
  const url = `http://127.0.0.1:${port}/`;
  const host = (fn: string) => `${fn}.localhost:${port}`;
  try {
    await waitUntilServing(url, host(probe), child);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    port,
    pid: child.pid!,
    host,
    admin: async (p) => (await request(url, { path: `/_islet/${p}`, headers: { authorization: `Bearer ${BENCH_TOKEN}` } })).text,
    rssBytes: () => rssBytes(child.pid!),
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `count` small JSON functions fn0, fn1, … (config entries), each answering its name, how many
 * requests it has served and the path: the load the soak and bench:functions spread.
 */
export function jsonFunctions(count: number): Record<string, { code: string }> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`fn${i}`, {
    code: `let n = 0; export default { fetch: (r) => Response.json({ fn: "fn${i}", n: ++n, path: new URL(r.url).pathname }) }`,
  }]));
}

/** autocannon requests that send each request to the next of `hosts` (Host headers) in turn. */
export function everyHostInTurn(hosts: string[]): autocannon.Request[] {
  let next = 0;
  return [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, host: hosts[next++ % hosts.length]! } }) }];
}

/** Sums of a Prometheus counter by one label, from /_islet/metrics text. */
export function counterBy(metrics: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const line = new RegExp(`^${name}\\{([^}]*)\\} ([\\d.e+-]+)$`, 'gm');
  for (const m of metrics.matchAll(line)) {
    const value = new RegExp(`${label}="([^"]*)"`).exec(m[1]!)?.[1] ?? '';
    out[value] = (out[value] ?? 0) + Number(m[2]);
  }
  return out;
}
