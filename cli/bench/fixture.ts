// --fixture <name>: islet itself as the target. `islet serve` runs as a child process (so the load
// generator and the server do not share an event loop), with fixtures/<name> as its one function
// and a fresh admin token so its /_islet/metrics can be read; it is stopped after the run.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBuilt } from '../../engine/own-file.ts';
import { UsageError } from '../args.ts';

// The package's root: two folders up from the sources, three from dist/cli/bench.
const ROOT = fileURLToPath(new URL(isBuilt(import.meta.url) ? '../../..' : '../..', import.meta.url));
// The CLI's launcher beside this folder: cli/islet.js, or dist/cli/islet.js in the package.
const LAUNCHER = fileURLToPath(new URL('../islet.js', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 2_000;

export interface FixtureServer {
  origin: string;
  /** The Host that routes to the fixture's function. */
  host: string;
  adminToken: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startFixture(name: string): Promise<FixtureServer> {
  const entry = await fixtureEntry(name);
  const dir = await mkdtemp(path.join(tmpdir(), 'islet-bench-'));
  const config = path.join(dir, 'islet.config.json');
  await writeFile(config, JSON.stringify({ functions: { [name]: { entry } } }));
  const adminToken = randomBytes(16).toString('hex');
  const child = spawn(process.execPath, ['--no-node-snapshot', LAUNCHER, 'serve', '--config', config, '--port', '0', '--admin-token', adminToken], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ISLET_LOG_LEVEL: 'warn' },
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      // It waits for open connections to finish; an interrupted run may still hold some.
      const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(kill);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const origin = await new Promise<string>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`islet serve did not start within ${START_TIMEOUT_MS / 1000} s:\n${output}`)), START_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const m = /listening at (http:\/\/[^\s/]+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`islet serve exited with ${code} before listening:\n${output}`));
      });
    });
    // Keep draining its output so a chatty server never blocks on a full pipe.
    child.stdout.resume();
    child.stderr.resume();
    return { origin, host: `${name}.localhost`, adminToken, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function fixtureEntry(name: string): Promise<string> {
  for (const file of ['index.ts', 'index.js']) {
    const entry = path.join(ROOT, 'fixtures', name, file);
    try {
      await access(entry);
      return entry;
    } catch {
      // try the next extension
    }
  }
  throw new UsageError(`--fixture: no fixtures/${name}/index.ts or index.js`);
}
