// Differential tests against Cloudflare's workerd (its binary ships in the `workerd` npm
// package): each worker in fixtures/diff/ runs on workerd and on islet with the same requests,
// and status, body and content type must agree. Skipped, with a message, where workerd cannot
// start.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleEntry } from '../../engine/bundle/index.ts';
import { Engine } from '../../engine/index.ts';
import { freePort, request } from '../../engine/gateway/test-http.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CORPUS = path.join(ROOT, 'fixtures/diff');
const WORKERD = path.join(ROOT, 'node_modules/workerd/bin/workerd');

const CASES: { worker: string; method?: string; path: string; body?: string; headers?: Record<string, string> }[] = [
  { worker: 'headers', path: '/', headers: { 'x-test': 'hello' } },
  { worker: 'bodies', method: 'POST', path: '/', body: 'payload' },
  { worker: 'urls', path: '/some/path?q=42' },
  { worker: 'encoding', path: '/' },
  { worker: 'redirect', path: '/' },
  { worker: 'redirect', path: '/throw' },
  { worker: 'events', path: '/' },
  { worker: 'global-events', path: '/' },
  { worker: 'global-scope', path: '/' },
  { worker: 'streams', path: '/stream' },
  { worker: 'streams', path: '/pipes' },
  { worker: 'streams', path: '/fixed-length' },
  { worker: 'digest', method: 'POST', path: '/', body: 'the quick brown fox' },
  { worker: 'crypto', path: '/symmetric' },
  { worker: 'crypto', path: '/asymmetric' },
  { worker: 'crypto', path: '/errors' },
  { worker: 'forms', method: 'POST', path: '/', body: 'k=v&k=w&e=%E2%82%AC', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
  { worker: 'hono', path: '/users/7?q=x' },
  { worker: 'hono', method: 'POST', path: '/echo', body: '{"a":[1,2]}', headers: { 'content-type': 'application/json' } },
  { worker: 'hono', path: '/missing' },
  { worker: 'hono', path: '/runtime' },
  { worker: 'platform', path: '/' },
  { worker: 'compression', method: 'POST', path: '/', body: 'a body, compressed and decompressed on its way through' },
  { worker: 'compression', path: '/errors' },
  { worker: 'html-rewriter', path: '/' },
  { worker: 'html-rewriter', path: '/chunked' },
  { worker: 'html-rewriter', path: '/observe' },
  { worker: 'html-rewriter', path: '/errors' },
  { worker: 'webassembly', path: '/' },
];

let workerd: ChildProcess | undefined;
let dir: string;
const ports = new Map<string, number>();
let engine: Engine;
let skipReason = '';


beforeAll(async () => {
  const files = (await readdir(CORPUS)).filter((f) => /\.(js|ts)$/.test(f));
  const workers = files.map((f) => f.replace(/\.(js|ts)$/, ''));
  engine = new Engine();
  // What is compared is behaviour, not limits: a cold isolate's first compression (fflate's tables,
  // unoptimised code) can pass the default 50 ms of CPU on a machine busy with the other tests.
  for (const f of files) await engine.deploy(f.replace(/\.(js|ts)$/, ''), { entry: path.join(CORPUS, f), limits: { cpuMs: 2_000 } });
  if (!existsSync(WORKERD)) {
    skipReason = `workerd binary not found at ${WORKERD}`;
    return;
  }
  dir = await mkdtemp(path.join(tmpdir(), 'islet-workerd-diff-'));
  for (const [i, w] of workers.entries()) {
    // workerd gets the same single module islet runs: bundled by islet's bundler.
    await writeFile(path.join(dir, `${w}.js`), (await bundleEntry(path.join(CORPUS, files[i]!))).code);
  }
  // A free port can be taken by a test running beside this one before workerd binds it: then it
  // exits at once, and it gets new ports (a skip would hide the comparison from the whole run).
  let stderr = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    const services: string[] = [];
    const sockets: string[] = [];
    for (const w of workers) {
      const port = await freePort();
      ports.set(w, port);
      services.push(`(name = "${w}", worker = (modules = [(name = "${w}.js", esModule = embed "${w}.js")], compatibilityDate = "2025-01-01"))`);
      sockets.push(`(name = "${w}", address = "127.0.0.1:${port}", http = (), service = "${w}")`);
    }
    await writeFile(path.join(dir, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (services = [${services.join(', ')}], sockets = [${sockets.join(', ')}]);\n`);
    const child = spawn(WORKERD, ['serve', path.join(dir, 'config.capnp')], { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
    workerd = child;
    stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const first = ports.values().next().value!;
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      try {
        await request(`http://127.0.0.1:${first}/`);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    child.kill('SIGKILL');
  }
  const said = stderr.trim().split('\n').slice(-3).join(' | ');
  // Ports taken three times over is the machine's doing; anything else workerd says is about the
  // workers or their bundles, which is what this test is for (an export workerd refuses, say).
  if (!/address already in use|EADDRINUSE/i.test(stderr)) throw new Error(`workerd refused the differential workers: ${said}`);
  skipReason = `workerd did not start (exit code ${workerd?.exitCode}): ${said}`;
}, 30_000);

afterAll(async () => {
  workerd?.kill('SIGKILL');
  await engine?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('islet vs workerd on the same workers', () => {
  for (const c of CASES) {
    it(`${c.worker} ${c.method ?? 'GET'} ${c.path}`, async (ctx) => {
      if (skipReason) {
        console.warn(`workerd differential test skipped: ${skipReason}`);
        ctx.skip();
      }
      const req = { method: c.method ?? 'GET', path: c.path, headers: c.headers, body: c.body, host: 'diff.example' };
      const theirs = await request(`http://127.0.0.1:${ports.get(c.worker)}`, req);
      const init: RequestInit = { method: req.method, headers: c.headers, body: c.body };
      const mine = await engine.fetch(c.worker, new Request(`http://diff.example${c.path}`, init));
      expect(mine.status).toBe(theirs.status);
      expect(mine.headers.get('location')).toBe(theirs.headers.location ?? null);
      if (theirs.status >= 500) return; // error bodies are each runtime's own
      expect(mine.headers.get('content-type')).toBe(theirs.headers['content-type'] ?? null);
      const body = await mine.text();
      expect(body).toBe(theirs.text);
    });
  }
});
