// The servers a benchmark compares, each started as its own process so that its CPU time can be
// read from /proc and nothing else is counted.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { freePort, request } from '../engine/gateway/test-http.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NODE = process.execPath;

export interface Target {
  name: string;
  url: string;
  /** Host header the load generator sends. */
  host: string;
  pid: number;
  stop(): Promise<void>;
}

export type TargetName = 'node' | 'hono-node' | 'naive-ivm' | 'islet' | 'islet-proxy' | 'islet-in-process' | 'islet-workers-2' | 'workerd';
export const TARGETS: TargetName[] = ['node', 'hono-node', 'naive-ivm', 'islet', 'islet-proxy', 'islet-in-process', 'islet-workers-2', 'workerd'];

export async function startTarget(name: TargetName, fixture: string): Promise<Target> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), `islet-bench-${name}-`));
  const entry = path.join(ROOT, 'fixtures', fixture, 'index.ts');
  let child: ChildProcess;
  let host = `127.0.0.1:${port}`;
  if (name === 'node') {
    child = spawn(NODE, [path.join(ROOT, 'bench/bare-node-server.ts'), String(port), fixture], { stdio: 'ignore', env: cleanEnv() });
  } else if (name === 'hono-node') {
    child = spawn(NODE, [path.join(ROOT, 'bench/hono-node-server.ts'), String(port), fixture], { stdio: 'ignore', env: cleanEnv() });
  } else if (name === 'naive-ivm') {
    child = spawn(NODE, ['--no-node-snapshot', path.join(ROOT, 'bench/naive-ivm-server.ts'), String(port)], { stdio: 'ignore', env: cleanEnv() });
  } else if (name.startsWith('islet')) {
    // islet: the supervisor handing connections to one engine process; islet-proxy: the
    // supervisor forwarding each request to it; islet-in-process: the engine alone;
    // islet-workers-2: the supervisor proxying to two engines.
    const config = path.join(dir, 'islet.config.json');
    await writeFile(config, JSON.stringify({ functions: { [fixture]: { entry } } }));
    const mode = ({ islet: [], 'islet-proxy': ['--proxy'], 'islet-in-process': ['--in-process'], 'islet-workers-2': ['--workers', '2'] } as Record<string, string[]>)[name]!;
    child = spawn(NODE, ['--no-node-snapshot', path.join(ROOT, 'cli/islet.js'), 'serve', '--config', config, '--port', String(port), ...mode], {
      stdio: 'ignore',
      env: { ...cleanEnv(), ISLET_LOG_LEVEL: 'warn' },
    });
    host = `${fixture}.localhost:${port}`;
  } else {
    const bundle = await esbuild.build({ entryPoints: [entry], bundle: true, write: false, format: 'esm', platform: 'neutral', target: 'es2024', conditions: ['workerd', 'worker', 'browser'] });
    await writeFile(path.join(dir, 'worker.js'), bundle.outputFiles[0]!.text);
    await writeFile(path.join(dir, 'config.capnp'), workerdConfig(port));
    child = spawn(workerdBinary(), ['serve', path.join(dir, 'config.capnp')], { stdio: 'ignore', cwd: dir, env: cleanEnv() });
  }
  const url = `http://127.0.0.1:${port}/`;
  try {
    await waitUntilServing(url, host, child);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    name,
    url,
    host,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * CPU time (user + system) a process and its live descendants have used so far, in
 * microseconds, from /proc. Descendants count because a server may do its work in child
 * processes (a supervisor in front of its engines).
 */
export async function cpuMicros(pid: number): Promise<number> {
  let total = 0;
  for (const p of await processTree(pid)) {
    try {
      const stat = await readFile(`/proc/${p}/stat`, 'utf8');
      // Fields after the command name, which may contain spaces: utime is field 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1e6;
    } catch {
      // a child that exited since it was listed
    }
  }
  return total;
}

/** Resident memory of a process and its live descendants (a supervisor and its engines), in bytes. */
export async function rssBytes(pid: number): Promise<number> {
  let total = 0;
  for (const p of await processTree(pid)) {
    const status = await readFile(`/proc/${p}/status`, 'utf8').catch(() => '');
    total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  }
  return total;
}

/** `pid` and its descendants, from each thread's /proc/<pid>/task/<tid>/children. */
export async function processTree(pid: number): Promise<number[]> {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const tasks = await readdir(`/proc/${out[i]}/task`).catch(() => [] as string[]);
    for (const tid of tasks) {
      const children = await readFile(`/proc/${out[i]}/task/${tid}/children`, 'utf8').catch(() => '');
      for (const c of children.split(' ')) if (c.trim()) out.push(Number(c));
    }
  }
  return out;
}

// sysconf(_SC_CLK_TCK) is 100 on every Linux this runs on.
const CLOCK_TICKS = 100;

export function workerdBinary(): string {
  return path.join(ROOT, 'node_modules/workerd/bin/workerd');
}

function workerdConfig(port: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "2025-01-01",
);
`;
}

// The environment may carry NODE_EXTRA_CA_CERTS and the like, which slow every Node start and
// have nothing to do with serving.
export function cleanEnv(): NodeJS.ProcessEnv {
  const { PATH, HOME, LANG } = process.env;
  return { PATH, HOME, LANG };
}

export async function waitUntilServing(url: string, host: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: server exited with code ${child.exitCode}`);
    try {
      // node:http, because fetch() does not let a caller set Host.
      const res = await request(url, { host });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url}: server did not answer within 20 s`);
}
