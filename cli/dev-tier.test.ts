// `islet dev --tier`: the real command serves a function on the tier it names, and refuses an
// unknown tier as a usage error.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { request } from '../engine/gateway/test-http.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ISLET = path.join(ROOT, 'cli/islet.js');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** `islet dev fixtures/hello/index.ts` with `flags`: its URL once it serves, and what it printed. */
async function dev(flags: string[]): Promise<{ url: string; output: string }> {
  const child = spawn(process.execPath, ['--no-node-snapshot', ISLET, 'dev', 'fixtures/hello/index.ts', '--port', '0', ...flags], { cwd: ROOT });
  children.push(child);
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = / at (http:\/\/[\d.]+:\d+)/.exec(output);
      if (m) resolve(m[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`islet dev exited with ${code}:\n${output}`)));
  });
  return { url, output };
}

describe('islet dev --tier', () => {
  it('serves the function in a process sandbox and says so', async () => {
    const { url, output } = await dev(['--tier', 'process']);
    expect(output).toContain('on the process tier (tier "process" was asked for)');
    expect((await request(url)).text).toBe('Hello World!');
  });

  it('with --needs and no --tier, serves on the cheapest tier that meets the needs', async () => {
    const { url, output } = await dev(['--needs', 'node-builtins']);
    expect(output).toContain('on the process tier (auto:');
    expect((await request(url)).text).toBe('Hello World!');
  });

  it('refuses a tier or container runtime it does not know, naming the ones it does', () => {
    const run = spawnSync(process.execPath, ['--no-node-snapshot', ISLET, 'dev', 'fixtures/hello/index.ts', '--tier', 'vm'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('"tier" must be one of isolate, process, container, gvisor, microvm, auto');
    const runtime = spawnSync(process.execPath, ['--no-node-snapshot', ISLET, 'serve', '--container-runtime', 'docker'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    expect(runtime.status).toBe(2);
    expect(runtime.stderr).toContain('--container-runtime must be one of bubblewrap, runc, crun, got "docker"');
  });
});
