// End to end through the real `islet` command: start the server as a user would, speak HTTP.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { connect } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../engine/gateway/test-http.ts';
import { parsePrometheus } from './bench/prometheus.ts';
import { functionName } from './dev.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What `url` answers once `islet dev` has reloaded to answer `want` (or after ~5 s, whatever it answers then). */
async function answerOnceReloaded(url: string, want: string): Promise<string> {
  let text = '';
  for (let i = 0; i < 100 && text !== want; i++) {
    await new Promise((r) => setTimeout(r, 50));
    text = (await request(url)).text;
  }
  return text;
}
const ISLET = path.join(ROOT, 'cli/islet.js');
const children: ChildProcess[] = [];
let tmp: string;

/** Starts `islet <args>` and resolves with the URL it prints once it listens. */
function start(args: string[], env: Record<string, string> = {}, cwd = ROOT, onOutput?: (output: string) => void): Promise<{ url: string; child: ChildProcess; output: () => string; stdout: () => string }> {
  const child = spawn(process.execPath, ['--no-node-snapshot', ISLET, ...args], {
    cwd,
    env: { ...process.env, ISLET_LOG_LEVEL: 'info', ...env },
  });
  children.push(child);
  let output = '';
  let stdout = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      onOutput?.(output);
      const m = /(?:listening at|at) (http:\/\/[\d.]+:\d+)/.exec(output);
      if (m) resolve({ url: m[1]!, child, output: () => output, stdout: () => stdout });
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onData(chunk);
    });
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`islet exited with ${code}:\n${output}`)));
  });
}

function runCli(args: string[], cwd = ROOT) {
  return spawnSync(process.execPath, ['--no-node-snapshot', ISLET, ...args], { cwd, encoding: 'utf8', timeout: 20_000 });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'islet-cli-'));
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await rm(tmp, { recursive: true, force: true });
});

describe('islet serve', () => {
  const TOKEN = 'test-token-123';
  let url: string;
  let serverOutput: () => string;
  let serverStdout: () => string;

  beforeAll(async () => {
    const config = path.join(tmp, 'islet.config.json');
    await writeFile(config, JSON.stringify({
      limits: { cpuMs: 50 },
      functions: {
        hello: { entry: path.join(ROOT, 'fixtures/hello/index.ts') },
        api: { entry: path.join(ROOT, 'fixtures/json-api/index.ts'), env: { GREETING: 'hej' } },
        hog: { entry: path.join(ROOT, 'fixtures/cpu-hog/index.js') },
        throws: { entry: path.join(ROOT, 'fixtures/throws/index.js') },
        hono: { entry: path.join(ROOT, 'fixtures/hono-app/index.ts') },
        bomb: { entry: path.join(ROOT, 'fixtures/memory-bomb/index.js'), limits: { memoryMb: 32, cpuMs: 5000 } },
        later: { entry: path.join(ROOT, 'fixtures/wait-until/index.js') },
        small: { code: 'export default { async fetch(r) { return new Response(await r.text()) } }', limits: { maxBodyBytes: 10 } },
        hangs: { code: 'export default { fetch: () => new Promise(() => {}) }', limits: { wallMs: 300 } },
        writer: { code: 'globalThis.shared = "writer"; export default { fetch: () => new Response(String(globalThis.shared)) }' },
        reader: { code: 'export default { fetch: () => new Response(typeof globalThis.shared) }' },
        talker: { code: 'export default { fetch: (r) => { const path = new URL(r.url).pathname; if (path === "/throw") throw new Error("from " + path); console.log("hi from", path, "\\u001b[31m\\nforged"); return new Response("ok") } }' },
      },
    }));
    ({ url, output: serverOutput, stdout: serverStdout } = await start(['serve', '--config', config, '--port', '0', '--admin-token', TOKEN]));
  });

  it('serves Prometheus metrics per function to the admin token holder', async () => {
    for (let i = 0; i < 3; i++) await request(url, { host: 'hello.localhost' });
    // The first request kills the hog's isolate, so the second boots a fresh one: a cold start.
    for (let i = 0; i < 2; i++) await request(url, { host: 'hog.localhost' });
    // Hosts naming no function are counted, without a label each (a flood of them adds no series).
    for (let i = 0; i < 3; i++) expect((await request(url, { host: `nobody-${i}.localhost` })).status).toBe(404);
    expect((await request(url, { path: '/_islet/metrics' })).status).toBe(401);
    const res = await request(url, { path: '/_islet/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const text = res.text;
    // Read as samples, so labels may come in any order and include engine="<slot>" (supervised).
    const samples = parsePrometheus(text);
    const value = (name: string, labels: Record<string, string> = {}) => samples
      .filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
      .reduce((sum, x) => sum + x.value, 0);
    const present = (name: string, labels: Record<string, string> = {}) =>
      samples.some((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    expect(value('islet_requests_total', { function: 'hello', status: '200' })).toBeGreaterThanOrEqual(3);
    expect(value('islet_requests_total', { function: 'hog', status: '503' })).toBe(2);
    expect(value('islet_limit_kills_total', { function: 'hog', limit: 'cpu' })).toBe(2);
    expect(value('islet_request_duration_seconds_bucket', { function: 'hello', le: '0.05' })).toBeGreaterThanOrEqual(3);
    expect(value('islet_request_duration_seconds_count', { function: 'hello' })).toBeGreaterThanOrEqual(3);
    // The hog ran to its 50 ms CPU limit, twice.
    expect(value('islet_cpu_seconds_total', { function: 'hog' })).toBeGreaterThan(0.09);
    expect(present('islet_heap_bytes', { function: 'hello' })).toBe(true);
    expect(value('islet_queue_length', { function: 'hello' })).toBe(0);
    expect(value('islet_cold_starts_total', { function: 'hog' })).toBe(1);
    expect(present('islet_isolates_alive')).toBe(true);
    expect(value('islet_unrouted_requests_total')).toBe(3);
    expect(samples.filter((x) => x.name === 'islet_unrouted_requests_total')).toHaveLength(1);
    expect(present('islet_event_loop_lag_seconds')).toBe(true);
    for (const name of ['islet_shed_total', 'process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_heap_size_used_bytes']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it('reports the scheduler, the process and the busiest isolates in /_islet/status', async () => {
    const status = (await request(url, { path: '/_islet/status', headers: { authorization: `Bearer ${TOKEN}` } })).json();
    expect(status.scheduler).toMatchObject({ inFlight: expect.any(Number), eventLoopLagMs: expect.any(Number), shedding: null });
    const hello = status.busiest.find((f: { name: string }) => f.name === 'hello');
    expect(hello).toMatchObject({ inFlight: 0, queued: 0, quarantinedForMs: 0 });
    expect(hello.isolates[0]).toMatchObject({ inFlight: 0, heapMb: expect.any(Number), cpuMs: expect.any(Number) });
  });

  it('logs one JSON line per request, and islet tail follows a function live', async () => {
    await request(url, { host: 'talker.localhost', path: '/first' });
    await new Promise((r) => setTimeout(r, 50));
    // stdout is JSON lines and nothing else (jq reads it); the "listening at" line is on stderr.
    expect(serverStdout().split('\n').filter((l) => l !== '' && !l.startsWith('{'))).toEqual([]);
    const lines = serverOutput().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(lines).toContainEqual(expect.objectContaining({ fn: 'talker', msg: 'request', status: 200, ms: expect.any(Number), cpuMs: expect.any(Number) }));
    expect(lines).toContainEqual(expect.objectContaining({ fn: 'talker', src: 'console', msg: expect.stringMatching(/^hi from \/first /) }));

    const tail = spawn(process.execPath, ['--no-node-snapshot', ISLET, 'tail', 'talker', '--url', url], { cwd: ROOT, env: { ...process.env, ISLET_ADMIN_TOKEN: TOKEN } });
    children.push(tail);
    let out = '';
    const seen = (text: string) => new Promise<void>((resolve, reject) => {
      const check = () => out.includes(text) && resolve();
      tail.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        check();
      });
      tail.once('exit', (code) => reject(new Error(`islet tail exited with ${code}: ${out}`)));
      check();
    });
    await seen('following logs');
    await request(url, { host: 'talker.localhost', path: '/second' });
    await request(url, { host: 'hello.localhost' });
    await seen('hi from /second');
    await seen('request method=GET path=/second status=200');
    expect(out).not.toContain('hello');
    // The tenant's escape sequence shown escaped, its newline as a line behind the margin: no
    // forged line, nothing for the terminal.
    expect(out).toContain('hi from /second \\u001b[31m src=console\n             | forged');
    expect(out).not.toContain('\u001b');
    expect(out.split('\n').filter((l) => l.startsWith('forged'))).toEqual([]);
    // Why a request answered 500: the exception and its stack, in the function's own stream.
    await request(url, { host: 'talker.localhost', path: '/throw' });
    await seen('Error: from /throw\n             | Error: from /throw\n             |     at ');
    tail.kill();

    const missing = runCli(['tail', 'nobody', '--url', url, '--admin-token', TOKEN]);
    expect([missing.status, missing.stderr]).toEqual([2, expect.stringContaining('404')]);
    expect(runCli(['tail', 'talker', '--url', url, '--admin-token', 'wrong']).stderr).toContain('401');
  });

  it('routes by the first label of Host', async () => {
    const hello = await request(url, { host: 'hello.localhost:8787' });
    expect(hello.status).toBe(200);
    expect(hello.text).toBe('Hello World!');
    expect(hello.headers['content-type']).toBe('text/plain;charset=UTF-8');
    const api = await request(url, { host: 'api.example.com', path: '/greeting?name=x' });
    expect(api.json()).toEqual({ greeting: 'hej', name: 'x' });
  });

  it('routes an absolute-form request by its target, not its Host, and refuses two Hosts', async () => {
    const raw = (head: string) => new Promise<string>((resolve, reject) => {
      const target = new URL(url);
      const socket = connect(Number(target.port), target.hostname);
      let text = '';
      socket.on('data', (c) => { text += c.toString(); });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write(`${head}\r\nConnection: close\r\n\r\n`);
    });
    const absolute = await raw('GET http://api.example.com/greeting?name=abs HTTP/1.1\r\nHost: hello.localhost');
    expect(absolute).toMatch(/^HTTP\/1\.1 200/);
    expect(absolute).toContain('{"greeting":"hej","name":"abs"}');
    expect(await raw('GET / HTTP/1.1\r\nHost: hello.localhost\r\nHost: api.localhost')).toMatch(/^HTTP\/1\.1 400/);
  });

  it('answers 404 no-such-function for unknown and bare hosts', async () => {
    for (const host of ['nobody.localhost', 'localhost']) {
      const res = await request(url, { host });
      expect(res.status).toBe(404);
      expect(res.headers['islet-error']).toBe('no-such-function');
    }
  });

  it('serves the Hono app and runs waitUntil work after answering', async () => {
    expect((await request(url, { host: 'hono.localhost', path: '/users/7' })).json()).toEqual({ id: '7', agent: null });
    const accepted = await request(url, { host: 'later.localhost', path: '/?id=e2e' });
    expect([accepted.status, accepted.text]).toEqual([202, 'accepted e2e']);
    let log: string[] = [];
    for (let i = 0; i < 50 && !log.includes('e2e'); i++) {
      await new Promise((r) => setTimeout(r, 20));
      log = (await request(url, { host: 'later.localhost', path: '/log' })).json();
    }
    expect(log).toContain('e2e');
  });

  it('maps every limit and exceptions to their statuses, without stacks', async () => {
    const hog = await request(url, { host: 'hog.localhost', path: '/?after-await' });
    expect([hog.status, hog.headers['islet-error'], hog.json().error]).toEqual([503, 'cpu-limit', 'cpu_limit_exceeded']);
    for (let i = 0; i < 3; i++) {
      const bomb = await request(url, { host: 'bomb.localhost' });
      expect([bomb.status, bomb.headers['islet-error'], bomb.json().function]).toEqual([503, 'memory-limit', 'bomb']);
    }
    const hang = await request(url, { host: 'hangs.localhost' });
    expect([hang.status, hang.headers['islet-error']]).toEqual([503, 'wall-limit']);
    const thrown = await request(url, { host: 'throws.localhost' });
    expect([thrown.status, thrown.headers['islet-error']]).toEqual([500, 'exception']);
    expect(thrown.text).not.toContain('tenant code failed');
    expect((await request(url, { host: 'small.localhost', method: 'POST', body: '0123456789' })).text).toBe('0123456789');
    const big = await request(url, { host: 'small.localhost', method: 'POST', body: '0123456789!' });
    expect([big.status, big.headers['islet-error']]).toEqual([413, 'body-too-large']);
    const declared = await request(url, { host: 'small.localhost', method: 'POST', body: 'x'.repeat(64 * 1024) });
    expect(declared.status).toBe(413);
    expect((await request(url, { host: 'hello.localhost' })).status).toBe(200);
  });

  it('keeps tenants\' globals apart', async () => {
    expect((await request(url, { host: 'writer.localhost' })).text).toBe('writer');
    expect((await request(url, { host: 'reader.localhost' })).text).toBe('undefined');
  });

  it('answers 400 for a Host that cannot form a URL', async () => {
    const res = await request(url, { host: 'bad host.localhost' });
    expect(res.status).toBe(400);
  });

  it('keeps admin paths and IP-addressed requests away from tenant routing', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    for (const path of ['/_islet/functions/a/b', '/_islet/nothing-here']) {
      const res = await request(url, { path, headers: auth, host: 'hello.localhost' });
      expect([path, res.status, res.json().error]).toEqual([path, 404, 'not_found']);
    }
    // "127.0.0.1" names no function, although its first label would be "127".
    const put = await request(url, {
      method: 'PUT', path: '/_islet/functions/127', headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'export default { fetch: () => new Response("numbers") }' }),
    });
    expect(put.status).toBe(201);
    const byIp = await request(url, { host: '127.0.0.1:8787' });
    expect([byIp.status, byIp.headers['islet-error']]).toEqual([404, 'no-such-function']);
    expect((await request(url, { host: '127.example.com' })).text).toBe('numbers');
  });

  it('limits deploy bodies as they arrive, chunked ones too', async () => {
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const target = new URL('/_islet/functions/huge', url);
      const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve({ status: res.statusCode!, text: body }));
      });
      req.on('error', reject);
      // No Content-Length: chunked. 34 MB, past the 32 MB limit.
      const block = Buffer.alloc(1 << 20, 32);
      let sent = 0;
      const write = () => {
        while (sent < 34) {
          sent++;
          if (!req.write(block)) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    });
    expect([status, JSON.parse(text).error]).toEqual([413, 'body_too_large']);
  });

  it('refuses the admin API without the right bearer token', async () => {
    expect((await request(url, { path: '/_islet/functions' })).status).toBe(401);
    const wrong = await request(url, { path: '/_islet/functions', headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toContain('Bearer');
  });

  it('deploys, updates, lists and removes functions through the admin API', async () => {
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const put = (code: string, extra = {}) => request(url, {
      method: 'PUT', path: '/_islet/functions/greeter', headers: auth,
      body: JSON.stringify({ code, limits: { cpuMs: 20, memoryMb: 64 }, env: { WHO: 'world' }, ...extra }),
    });
    const created = await put('export default { fetch: (req: Request, env: {WHO: string}) => new Response(`hi ${env.WHO}`) }');
    expect(created.status).toBe(201);
    expect(created.json()).toMatchObject({ name: 'greeter', created: true, limits: { cpuMs: 20, memoryMb: 64, wallMs: 30000 } });
    expect((await request(url, { host: 'greeter.localhost' })).text).toBe('hi world');

    const updated = await put('export default { fetch: () => new Response("v2") }');
    expect(updated.status).toBe(200);
    expect((await request(url, { host: 'greeter.localhost' })).text).toBe('v2');

    const bad = await put('export default { fetch( }');
    expect(bad.status).toBe(400);
    expect(bad.json().diagnostics.join()).toMatch(/greeter\.ts:1:\d+/);
    expect((await request(url, { host: 'greeter.localhost' })).text).toBe('v2');
    // A top level that never finishes: the host's own stack (its frames, its install path) is not
    // sent back as the code's diagnostics.
    const never = await put('await new Promise(() => {}); export default { fetch: () => new Response("x") }', { limits: { wallMs: 200 } });
    expect([never.status, never.json().message, never.json().diagnostics]).toEqual([400, expect.stringMatching(/did not finish within 200 ms/), []]);

    expect((await put('x', { extra: 1 })).status).toBe(400);
    const badLimits = await request(url, { method: 'PUT', path: '/_islet/functions/greeter', headers: auth, body: JSON.stringify({ code: 'x', limits: { memoryMb: 1 } }) });
    expect(badLimits.status).toBe(400);
    expect(badLimits.json().message).toContain('memoryMb');
    expect((await request(url, { method: 'PUT', path: '/_islet/functions/greeter', headers: auth, body: '{' })).status).toBe(400);

    const list = await request(url, { path: '/_islet/functions', headers: auth });
    const names = list.json().functions.map((f: { name: string }) => f.name);
    expect(names).toEqual(expect.arrayContaining(['hello', 'api', 'greeter']));
    expect(list.json().functions.find((f: { name: string }) => f.name === 'greeter').limits.cpuMs).toBe(20);

    // A service binding over the admin API: the caller reaches hello in process, without the network.
    const caller = await request(url, {
      method: 'PUT', path: '/_islet/functions/caller', headers: auth,
      body: JSON.stringify({ code: 'export default { fetch: (req: Request, env: any) => env.HELLO.fetch("https://hello/") }', services: { HELLO: 'hello' } }),
    });
    expect([caller.status, caller.json().services]).toEqual([201, { HELLO: 'hello' }]);
    expect((await request(url, { host: 'caller.localhost' })).text).toBe((await request(url, { host: 'hello.localhost' })).text);
    expect((await request(url, { method: 'PUT', path: '/_islet/functions/caller', headers: auth, body: JSON.stringify({ code: 'x', services: { HELLO: 'Not Valid' } }) })).status).toBe(400);
    expect((await request(url, { method: 'DELETE', path: '/_islet/functions/caller', headers: auth })).status).toBe(204);

    expect((await request(url, { method: 'DELETE', path: '/_islet/functions/greeter', headers: auth })).status).toBe(204);
    expect((await request(url, { host: 'greeter.localhost' })).status).toBe(404);
    expect((await request(url, { method: 'DELETE', path: '/_islet/functions/greeter', headers: auth })).status).toBe(404);

    // Two deploys of one name at once: the later decides, the earlier is told it was overtaken.
    const slow = put('const end = Date.now() + 400; while (Date.now() < end); export default { fetch: () => new Response("slow") }');
    await new Promise((r) => setTimeout(r, 100));
    const later = await put('export default { fetch: () => new Response("later") }');
    const overtaken = await slow;
    expect([later.status, overtaken.status, overtaken.json().error]).toEqual([201, 409, 'conflict']);
    expect((await request(url, { host: 'greeter.localhost' })).text).toBe('later');

    const status = await request(url, { path: '/_islet/status', headers: auth });
    expect(status.json()).toMatchObject({ tier: 'isolate', snapshot: true, functions: expect.any(Number), liveIsolates: expect.any(Number), coldStarts: expect.any(Number) });
    expect((await request(url, { path: '/_islet/status' })).status).toBe(401);
  });
});

describe('islet serve shutdown', () => {
  it('ends islet tail with a line saying so, not a silent exit', async () => {
    const TOKEN = 'tail-token';
    const config = path.join(tmp, 'tailed.config.json');
    await writeFile(config, JSON.stringify({ functions: { tailed: { code: 'export default { fetch: () => new Response("x") }' } } }));
    const { url, child } = await start(['serve', '--config', config, '--port', '0', '--admin-token', TOKEN]);
    const tail = spawn(process.execPath, ['--no-node-snapshot', ISLET, 'tail', 'tailed', '--url', url], { cwd: ROOT, env: { ...process.env, ISLET_ADMIN_TOKEN: TOKEN } });
    children.push(tail);
    let out = '';
    let err = '';
    tail.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    tail.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    while (!out.includes('following logs')) await new Promise((r) => setTimeout(r, 20));
    const ended = new Promise<number | null>((resolve) => tail.once('exit', resolve));
    child.kill('SIGTERM');
    await ended;
    expect(err).toContain('ended the log stream of "tailed" (the server is shutting down)');
  });

  it('finishes requests in flight on SIGTERM, then exits 0', async () => {
    const config = path.join(tmp, 'slow.config.json');
    await writeFile(config, JSON.stringify({ functions: { slow: { code: 'export default { fetch: () => { console.log("started"); return new Promise((r) => setTimeout(() => r(new Response("finished")), 400)) } }' } } }));
    const { url, child, output } = await start(['serve', '--config', config, '--port', '0']);
    const inFlight = request(url, { host: 'slow.localhost' });
    // In flight for sure: the tenant has started on it (a fixed sleep is too short on a busy machine).
    while (!output().includes('"started"')) await new Promise((r) => setTimeout(r, 10));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    // A second signal (an impatient operator) neither kills the supervisor nor orphans its engine.
    await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    const res = await inFlight;
    expect([res.status, res.text]).toEqual([200, 'finished']);
    expect(await exited).toBe(0);
  });
});

describe('islet dev', () => {
  it('dev serves WebSockets (fixtures/websocket-echo) to a browser-style client', async () => {
    const { url } = await start(['dev', path.join(ROOT, 'fixtures/websocket-echo/index.ts'), '--port', '0']);
    expect((await request(url)).status).toBe(426);
    // Node's own WebSocket, as a browser would connect: dev serves its one function on any host.
    const ws = new WebSocket(url.replace('http', 'ws'));
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.addEventListener('open', () => ws.send('hi'));
      ws.addEventListener('message', (event) => resolve(String(event.data)));
      ws.addEventListener('error', () => reject(new Error('the WebSocket failed')));
    });
    expect(echoed).toBe('echo: hi');
    ws.close();
  });

  it('serves one function on every path and reloads it when a source file changes', async () => {
    const dir = path.join(tmp, 'dev-app');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'message.ts'), 'export const message = "first";\n');
    await writeFile(path.join(dir, 'index.ts'), 'import { message } from "./message.ts";\nexport default { fetch: (r: Request) => new Response(`${message} ${new URL(r.url).pathname}`) };\n');
    const { url, output } = await start(['dev', path.join(dir, 'index.ts'), '--port', '0']);
    expect((await request(url, { path: '/any/path' })).text).toBe('first /any/path');

    await writeFile(path.join(dir, 'message.ts'), 'export const message = "second";\n');
    expect(await answerOnceReloaded(url, 'second /')).toBe('second /');

    // A broken save keeps the last good version serving and says why.
    await writeFile(path.join(dir, 'message.ts'), 'export const message = ;\n');
    for (let i = 0; i < 100 && !output().includes('message.ts:1'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(output()).toContain('message.ts:1');
    expect(output()).toContain('(still serving the last version that built)');
    expect((await request(url)).text).toBe('second /');

    // An import of a file that does not exist yet fails; creating the file is the fix, and it
    // reloads without touching the file that imports it.
    await writeFile(path.join(dir, 'message.ts'), 'export { message } from "./later.ts";\n');
    for (let i = 0; i < 100 && !output().includes('later.ts'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(output()).toContain('later.ts');
    await writeFile(path.join(dir, 'later.ts'), 'export const message = "third";\n');
    expect(await answerOnceReloaded(url, 'third /')).toBe('third /');
  });

  it('runs the scheduled handler on GET /__scheduled with --test-scheduled', async () => {
    const entry = path.join(tmp, 'cron.js');
    await writeFile(entry, 'const runs = []; export default { fetch: () => Response.json(runs), scheduled(c) { if (c.cron === "fail") throw new Error("cron broke"); runs.push([c.cron, c.scheduledTime]) } };\n');
    const { url, output } = await start(['dev', entry, '--port', '0', '--test-scheduled']);
    const before = Date.now();
    const ran = await request(url, { path: '/__scheduled?cron=*/5+*+*+*+*' });
    expect([ran.status, ran.text]).toEqual([200, 'Ran scheduled event\n']);
    expect((await request(url)).json()).toEqual([['*/5 * * * *', expect.any(Number)]]);
    expect((await request(url)).json()[0][1]).toBeGreaterThanOrEqual(before);
    // wrangler's ?time= sets scheduledTime (it was ignored); one that is no time is a 400 that says so.
    expect((await request(url, { path: '/__scheduled?cron=0+9+*+*+1&time=1735290000000' })).status).toBe(200);
    expect((await request(url)).json()[1]).toEqual(['0 9 * * 1', 1735290000000]);
    const bad = await request(url, { path: '/__scheduled?cron=*+*+*+*+*&time=yesterday' });
    expect([bad.status, bad.text]).toEqual([400, expect.stringContaining('?time must be a time in milliseconds since the epoch')]);
    expect((await request(url)).json()).toHaveLength(2);
    // A handler that throws: a 500 with its stack, and the stack in the terminal once (it was twice).
    const failed = await request(url, { path: '/__scheduled?cron=fail' });
    expect([failed.status, failed.json().stack]).toEqual([500, expect.stringContaining('cron broke')]);
    for (let i = 0; i < 40 && !output().includes('cron broke'); i++) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 200));
    expect(output().match(/cron broke/g)).toHaveLength(1);
  });

  it('stops at once on Ctrl-C, though a streamed answer is still open', async () => {
    const entry = path.join(tmp, 'ticker.js');
    await writeFile(entry, 'export default { fetch: () => new Response(new ReadableStream({ pull: (c) => new Promise((r) => setTimeout(() => { c.enqueue(new Uint8Array(1)); r(); }, 100)) })) };\n');
    const { url, child } = await start(['dev', entry, '--port', '0']);
    const { hostname, port } = new URL(url);
    await new Promise<void>((resolve) => http.get({ hostname, port, path: '/' }, (res) => res.once('data', () => resolve())).on('error', () => {}));
    const started = performance.now();
    child.kill('SIGINT');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('gives the function env variables from --var and from .dev.vars', async () => {
    const dir = path.join(tmp, 'dev-vars');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'index.js'), 'export default { fetch: (r, env) => Response.json(env) };\n');
    await writeFile(path.join(dir, '.dev.vars'), '# secrets for dev\nAPI_KEY="from file"\nGREETING=overridden\n');
    const { url } = await start(['dev', 'index.js', '--port', '0', '--var', 'GREETING=hej', '--var', 'EMPTY='], {}, dir);
    expect((await request(url)).json()).toEqual({ API_KEY: 'from file', GREETING: 'hej', EMPTY: '' });
    expect(runCli(['dev', 'x.js', '--var', 'nope']).stderr).toContain('--var takes NAME=value');
  });

  it('reads .env and .env.local without a .dev.vars, as wrangler dev does, and reloads when they change', async () => {
    const dir = path.join(tmp, 'dot-env');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'index.js'), 'export default { fetch: (r, env) => Response.json(env) };\n');
    await writeFile(path.join(dir, '.env'), 'API_KEY="from .env"\nREGION=eu\n');
    await writeFile(path.join(dir, '.env.local'), 'REGION=local\n');
    const { url } = await start(['dev', 'index.js', '--port', '0'], {}, dir);
    // Before, the function got no env at all, and nothing said why.
    expect((await request(url)).json()).toEqual({ API_KEY: 'from .env', REGION: 'local' });
    await writeFile(path.join(dir, '.env'), 'API_KEY=changed\n');
    expect(await answerOnceReloaded(url, '{"API_KEY":"changed","REGION":"local"}')).toBe('{"API_KEY":"changed","REGION":"local"}');
    // A .dev.vars, once there, is read instead of them, as wrangler does.
    await writeFile(path.join(dir, '.dev.vars'), 'ONLY=dev-vars\n');
    expect(await answerOnceReloaded(url, '{"ONLY":"dev-vars"}')).toBe('{"ONLY":"dev-vars"}');
  });

  it('dev with no entry, beside a wrangler config, names the entry that config gives', async () => {
    const dir = path.join(tmp, 'wrangler-main');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'wrangler.toml'), 'name = "app"\nmain = "src/index.ts"\ncompatibility_date = "2025-01-01"\n\n[vars]\nmain = "not this"\n');
    const run = runCli(['dev'], dir);
    expect(run.status).toBe(2);
    // Before: only that one entry file was needed, though `wrangler dev` needs none given.
    expect(run.stderr).toContain('wrangler.toml is not read (its main is "src/index.ts": run islet dev src/index.ts)');
  });

  it('dev names a project\'s src/index.* or index.* entry after the project, others after their file', async () => {
    const project = path.join(tmp, 'My Worker');
    await mkdir(path.join(project, 'src'), { recursive: true });
    // Before: "src", in every log line.
    expect(functionName(path.join(project, 'src/index.ts'))).toBe('my-worker');
    expect(functionName(path.join(project, 'index.js'))).toBe('my-worker');
    expect(functionName(path.join(project, 'src/my_api.ts'))).toBe('my-api');
    expect(functionName(path.join(ROOT, 'fixtures/hello/index.ts'))).toBe('hello');
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: '@acme/edge-api' }));
    expect(functionName(path.join(project, 'src/index.ts'))).toBe('edge-api');
    expect(functionName(path.join(project, 'index.ts'))).toBe('edge-api');
    expect(functionName(path.join(project, 'src/api.ts'))).toBe('api');
    await writeFile(path.join(project, 'src/index.ts'), 'export default { fetch: () => new Response("ok") };\n');
    const { output, child } = await start(['dev', 'src/index.ts', '--port', '0'], {}, project);
    expect(output()).toContain('serving src/index.ts as "edge-api"');
    child.kill('SIGKILL');
  });

  it('dev lets the function fetch a server on localhost, as wrangler dev does', async () => {
    const local = http.createServer((_req, res) => res.end('from localhost'));
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    try {
      const dir = path.join(tmp, 'dev-localhost');
      await mkdir(dir, { recursive: true });
      const port = (local.address() as { port: number }).port;
      await writeFile(path.join(dir, 'index.js'), `export default { fetch: () => fetch('http://localhost:${port}/').then((r) => r.text(), (e) => e.message).then((text) => new Response(text)) };\n`);
      const { url } = await start(['dev', 'index.js', '--port', '0'], {}, dir);
      // Before: "fetch to localhost refused: not a public address", and no flag to allow it.
      expect((await request(url)).text).toBe('from localhost');
    } finally {
      local.close();
    }
  });

  it('says so when .dev.vars cannot be read, rather than crashing with a stack', async () => {
    const dir = path.join(tmp, 'dev-vars-folder');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(path.join(dir, '.dev.vars'), { recursive: true });
    await writeFile(path.join(dir, 'index.js'), 'export default { fetch: () => new Response("ok") };\n');
    const run = runCli(['dev', 'index.js', '--port', '0'], dir);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('.dev.vars could not be read (EISDIR)');
    expect(run.stderr).not.toContain('    at ');
  });

  it('shows tenant stacks in dev', async () => {
    const { url } = await start(['dev', path.join(ROOT, 'fixtures/throws/index.js'), '--port', '0']);
    const res = await request(url);
    expect(res.status).toBe(500);
    expect(res.json().stack).toContain('tenant code failed on purpose');
  });

  it('shows console.debug in dev, as wrangler dev does (serve logs from info up)', async () => {
    const entry = path.join(tmp, 'debugs.js');
    await writeFile(entry, 'export default { fetch: () => { console.debug("a debug line"); return new Response("ok") } };\n');
    const { url, output } = await start(['dev', entry, '--port', '0'], { ISLET_LOG_LEVEL: '' });
    expect((await request(url)).text).toBe('ok');
    for (let i = 0; i < 40 && !output().includes('a debug line'); i++) await new Promise((r) => setTimeout(r, 25));
    expect(output()).toContain('a debug line');
  });
});

describe('flags', () => {
  it('--help describes every flag of every command', () => {
    const top = runCli(['--help']);
    expect(top.status).toBe(0);
    expect(top.stdout).toContain('dev <entry>');
    const dev = runCli(['dev', '--help']);
    for (const flag of ['--port', '--host', '--cpu-ms', '--memory-mb', '--test-scheduled']) expect(dev.stdout).toContain(flag);
    const serve = runCli(['serve', '--help']);
    for (const flag of ['--config', '--port', '--host', '--admin-token']) expect(serve.stdout).toContain(flag);
    const tail = runCli(['tail', '--help']);
    for (const flag of ['--url', '--admin-token', '--json']) expect(tail.stdout).toContain(flag);
    const setup = runCli(['setup', '--help']);
    expect([setup.status, setup.stdout]).toEqual([0, expect.stringContaining('microVM')]);
    expect(setup.stdout).toContain('islet setup gpu installs');
    expect(runCli(['setup', 'gpux']).status).toBe(2);
    const version = runCli(['--version']);
    expect([version.status, version.stdout.trim()]).toEqual([0, JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version]);
  });

  it('bad flags, bad config and broken entries exit 2 with a clear message', async () => {
    const unknown = runCli(['serve', '--bogus']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--bogus'");
    expect(runCli(['dev', 'x.ts', '--cpu-ms', 'lots']).status).toBe(2);
    expect(runCli(['frobnicate']).status).toBe(2);
    const spaced = runCli(['serve', '--admin-token', 'secret ']);
    expect([spaced.status, spaced.stderr]).toEqual([2, expect.stringContaining('visible ASCII')]);
    const config = path.join(tmp, 'bad.json');
    await writeFile(config, JSON.stringify({ functions: { hello: { entry: 'x.ts', limits: { cpuMs: 0 } } } }));
    const badConfig = runCli(['serve', '--config', config]);
    expect(badConfig.status).toBe(2);
    expect(badConfig.stderr).toContain('cpuMs');
    // Not parseArgs's "argument is ambiguous": the flag's own range.
    for (const [flag, range] of [['--workers', 'from 1 to 256'], ['--port', 'from 0 to 65535']]) {
      const negative = runCli(['serve', flag, '-1']);
      expect([negative.status, negative.stderr]).toEqual([2, expect.stringContaining(`${flag} must be an integer ${range}, got "-1"`)]);
    }
    await writeFile(config, JSON.stringify({ sched: { tickMs: 1e10 }, functions: {} }));
    const badSched = runCli(['serve', '--config', config]);
    expect([badSched.status, badSched.stderr]).toEqual([2, expect.stringContaining('scheduler option tickMs must be an integer from 1 to 60000, got 10000000000')]);
    const missing = runCli(['dev', path.join(tmp, 'no-such-file.ts'), '--port', '0']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no-such-file\.ts/);
  });

  it('dev started on code that does not build says why, answers with it, and serves the code once a save fixes it', async () => {
    const broken = path.join(tmp, 'broken.ts');
    await writeFile(broken, 'export default {\n  fetch() { return new Response( }\n};\n');
    const { url, output } = await start(['dev', broken, '--port', '0']);
    expect(output()).toMatch(/broken\.ts:2:\d+: error/);
    const first = await request(url);
    expect([first.status, first.headers['islet-error']]).toEqual([500, 'bad-code']);
    expect(first.text).toMatch(/does not build:[\s\S]*broken\.ts:2:\d+: error/);
    // The stand-in that answers the error is no deploy of the code to report.
    expect(output()).not.toContain('function deployed');
    // Broken again, differently: requests get the new error, not the first one.
    await writeFile(broken, 'export default {\n\n\n  fetch() { return new Response( }\n};\n');
    for (let i = 0; i < 100 && !(await request(url)).text.includes('broken.ts:4:'); i++) await new Promise((r) => setTimeout(r, 50));
    expect((await request(url)).text).toMatch(/broken\.ts:4:\d+: error/);
    await writeFile(broken, 'export default { fetch: () => new Response("fixed") };\n');
    expect(await answerOnceReloaded(url, 'fixed')).toBe('fixed');
  });

  it('dev started on an import that does not build, in another folder, reloads once that file is fixed', async () => {
    const app = path.join(tmp, 'app');
    const lib = path.join(tmp, 'lib');
    await mkdir(app, { recursive: true });
    await mkdir(lib, { recursive: true });
    const entry = path.join(app, 'entry.ts');
    await writeFile(entry, 'import { word } from "../lib/word.ts";\nexport default { fetch: () => new Response(word) };\n');
    await writeFile(path.join(lib, 'word.ts'), 'export const word = ;\n');
    const { url, output } = await start(['dev', entry, '--port', '0']);
    expect(output()).toMatch(/word\.ts:1:\d+: error/);
    await writeFile(path.join(lib, 'word.ts'), 'export const word = "mended";\n');
    expect(await answerOnceReloaded(url, 'mended')).toBe('mended');
  });

  it('dev started on an import of a file that does not exist yet, in a folder that does not either, reloads once it is made', async () => {
    const app = path.join(tmp, 'app2');
    await mkdir(app, { recursive: true });
    const entry = path.join(app, 'entry.ts');
    await writeFile(entry, 'import { word } from "../later/word.ts";\nexport default { fetch: () => new Response(word) };\n');
    const { url, output } = await start(['dev', entry, '--port', '0']);
    expect(output()).toMatch(/Could not resolve/);
    await mkdir(path.join(tmp, 'later'));
    // Give the watcher a moment to take the new folder on (the failed rebuild its making triggers).
    await new Promise((r) => setTimeout(r, 300));
    await writeFile(path.join(tmp, 'later', 'word.ts'), 'export const word = "made";\n');
    expect(await answerOnceReloaded(url, 'made')).toBe('made');
  });

  it('dev serves a save made while its first build was still loading (a slow top level)', async () => {
    const dir = path.join(tmp, 'slow-first');
    await mkdir(dir, { recursive: true });
    const entry = path.join(dir, 'index.js');
    // Its top level takes 0.6 s, as a first deploy on a slow tier can: the save comes meanwhile,
    // once the build has read the file (its top level says so).
    await writeFile(entry, 'console.log("loading v1"); const end = Date.now() + 600; while (Date.now() < end) {}\nexport default { fetch: () => new Response("v1") };\n');
    let saved: Promise<void> | undefined;
    const { url } = await start(['dev', entry, '--port', '0'], {}, dir, (output) => {
      if (output.includes('loading v1')) saved ??= writeFile(entry, 'export default { fetch: () => new Response("v2") };\n');
    });
    expect(saved).toBeDefined();
    await saved;
    // Before, the watcher began after the first deploy: the save was never built.
    expect(await answerOnceReloaded(url, 'v2')).toBe('v2');
  });

  it('dev reloads once a broken JSON import is fixed, though JSON is not taken as source in broken mode', async () => {
    const dir = path.join(tmp, 'json-import');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'config.json'), '{ "word": "first", }');
    await writeFile(path.join(dir, 'index.ts'), 'import config from "./config.json";\nexport default { fetch: () => new Response(config.word) };\n');
    const { url, output } = await start(['dev', 'index.ts', '--port', '0'], {}, dir);
    expect(output()).toMatch(/config\.json/);
    await writeFile(path.join(dir, 'config.json'), '{ "word": "fixed" }');
    expect(await answerOnceReloaded(url, 'fixed')).toBe('fixed');
  });

  it('dev stopped during its first build closes its engine and exits 0 (sandboxes of other tiers go with it)', async () => {
    const entry = path.join(tmp, 'slow-stop.js');
    await writeFile(entry, 'console.log("loading"); const end = Date.now() + 800; while (Date.now() < end) {}\nexport default { fetch: () => new Response("x") };\n');
    const child = spawn(process.execPath, ['--no-node-snapshot', ISLET, 'dev', entry, '--port', '0'], { cwd: tmp, env: { ...process.env, ISLET_LOG_LEVEL: 'info' } });
    children.push(child);
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('loading')) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
    });
    child.kill('SIGINT');
    // Before, the handlers came after the first deploy: Node's default ended it (130) with the engine
    // open, and a microVM tier's QEMU guests ran on, orphaned.
    expect(await exited).toBe(0);
  });

  it('dev reloads when tsconfig.json or a file in node_modules changes, and when a missing alias is added', async () => {
    const dir = path.join(tmp, 'tsconfig-paths');
    await mkdir(path.join(dir, 'src', 'a'), { recursive: true });
    await mkdir(path.join(dir, 'src', 'b'), { recursive: true });
    await mkdir(path.join(dir, 'node_modules', 'dep'), { recursive: true });
    await writeFile(path.join(dir, 'src', 'a', 'word.ts'), 'export const word = "a";\n');
    await writeFile(path.join(dir, 'src', 'b', 'word.ts'), 'export const word = "b";\n');
    await writeFile(path.join(dir, 'node_modules', 'dep', 'package.json'), '{ "name": "dep", "main": "index.js" }');
    await writeFile(path.join(dir, 'node_modules', 'dep', 'index.js'), 'export const dep = "1";\n');
    await writeFile(path.join(dir, 'src', 'index.ts'), 'import { word } from "@lib/word";\nimport { dep } from "dep";\nexport default { fetch: () => new Response(word + dep) };\n');
    // Started without the alias: the fix is in tsconfig.json, which no build had read yet.
    await writeFile(path.join(dir, 'tsconfig.json'), '{ "compilerOptions": {} }');
    const { url, output } = await start(['dev', 'src/index.ts', '--port', '0'], {}, dir);
    expect(output()).toContain('Could not resolve "@lib/word"');
    const paths = (to: string) => JSON.stringify({ compilerOptions: { paths: { '@lib/*': [`./src/${to}/*`] } } });
    await writeFile(path.join(dir, 'tsconfig.json'), paths('a'));
    expect(await answerOnceReloaded(url, 'a1')).toBe('a1');
    // Before, neither rebuilt: the old alias's code, and the old package's, were served on.
    await writeFile(path.join(dir, 'tsconfig.json'), paths('b'));
    expect(await answerOnceReloaded(url, 'b1')).toBe('b1');
    await writeFile(path.join(dir, 'node_modules', 'dep', 'index.js'), 'export const dep = "2";\n');
    expect(await answerOnceReloaded(url, 'b2')).toBe('b2');
  });

  it('dev reloads when .dev.vars changes, and a log written beside broken code does not rebuild it', async () => {
    const dir = path.join(tmp, 'dev-vars-reload');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'index.js'), 'export default { fetch: (r, env) => new Response(env.WORD) };\n');
    await writeFile(path.join(dir, '.dev.vars'), 'WORD=first\n');
    const { url, output } = await start(['dev', 'index.js', '--port', '0'], {}, dir);
    expect((await request(url)).text).toBe('first');
    await writeFile(path.join(dir, '.dev.vars'), 'WORD=second\n');
    expect(await answerOnceReloaded(url, 'second')).toBe('second');

    await writeFile(path.join(dir, 'index.js'), 'export default { fetch( };\n');
    const errors = () => output().split('index.js:1:').length - 1;
    for (let i = 0; i < 100 && errors() === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const seen = errors();
    expect(seen).toBeGreaterThan(0);
    // A log file in the folder (dev's own output redirected there, say): before, each write
    // rebuilt the broken code, whose error was written to the log, which rebuilt it again.
    for (let i = 0; i < 5; i++) {
      await writeFile(path.join(dir, i % 2 ? 'dev.log' : 'devlog'), `line ${i}\n`, { flag: 'a' });
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(errors()).toBe(seen);
  });
});
