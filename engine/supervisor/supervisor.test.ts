// End to end through `islet serve`: the supervisor in front of real engine processes, over HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { request, type TestResponse } from '../gateway/test-http.ts';
import { HashRing } from './hash-ring.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'sup-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const children: ChildProcess[] = [];
let tmp: string;

const SLOW = 'export default { fetch: () => new Promise((r) => setTimeout(() => r(new Response("finished")), 600)) }';
// Still running seconds after it was asked: long enough to be caught in flight on a loaded machine.
const SLOWER = SLOW.replace('600', '5000');
const COUNTER = 'let n = 0; export default { fetch: () => new Response(String(++n)) }';

function serve(functions: Record<string, unknown>, flags: string[] = []) {
  return serveWith({ functions }, flags);
}

async function serveWith(settings: Record<string, unknown>, flags: string[] = [], env: Record<string, string> = {}) {
  const config = path.join(tmp, `config-${children.length}.json`);
  await writeFile(config, JSON.stringify(settings));
  const child = spawn(process.execPath, ['--no-node-snapshot', path.join(ROOT, 'cli/islet.js'), 'serve', '--config', config, '--port', '0', '--admin-token', TOKEN, ...flags], {
    cwd: ROOT,
    env: { ...process.env, ISLET_LOG_LEVEL: 'error', ...env },
  });
  children.push(child);
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /listening at (http:\/\/[\d.]+:\d+)/.exec(output);
      if (m) resolve(m[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`islet exited with ${code}:\n${output}`)));
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { url, child, exited, output: () => output };
}

async function status(url: string) {
  return (await request(url, { path: '/_islet/status', headers: auth })).json();
}

/** Keeps `concurrency` clients sending requests to `host` until `stop` resolves; returns every status. */
async function load(url: string, host: string, concurrency: number, stop: Promise<unknown>): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses: number[] = [];
  let done = false;
  void stop.then(() => (done = true));
  const { hostname, port } = new URL(url);
  const one = () => new Promise<number>((resolve) => {
    const req = http.get({ hostname, port, path: '/', headers: { host }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(-1));
  });
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (!done) statuses.push(await one());
  }));
  agent.destroy();
  return statuses;
}

/** Writes `text` on a new connection to `url`: what came back so far, and all of it once it closed. */
function rawConnection(url: string, text: string): { seen: () => string; closed: Promise<string> } {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let seen = '';
  socket.on('data', (b) => (seen += b));
  socket.on('error', () => {});
  const closed = new Promise<string>((r) => socket.once('close', () => r(seen)));
  socket.write(text);
  return { seen: () => seen, closed };
}

/** The pids of `pid`'s living child processes, from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid && state !== 'Z') children.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return children;
}

/** Waits until the engine has a request in flight besides the status request asking. */
async function untilInFlight(url: string): Promise<void> {
  while ((await status(url)).engines[0].inFlight < 2) await new Promise((r) => setTimeout(r, 10));
}

/** Milliseconds until `host` answers 200, asking every 5 ms. */
async function firstSuccess(url: string, host: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    // A request that raced the crash gets 502 engine-restarted, or a refused or reset connection
    // if it was sent as the supervisor closed it.
    const res = await request(url, { host }).catch(() => undefined);
    if (res?.status === 200) return Date.now() - started;
    if (res) expect(res.headers['islet-error']).toBe('engine-restarted');
    await new Promise((r) => setTimeout(r, 5));
  }
  return Infinity;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'islet-sup-'));
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await rm(tmp, { recursive: true, force: true });
});

describe('supervisor', () => {
  it('replaces a killed engine with every function while the socket stays open; the request in flight gets 502', async () => {
    const { url } = await serve({ hello: { entry: path.join(ROOT, 'fixtures/hello/index.ts') }, slow: { code: SLOWER } });
    // On the process tier: a replacement engine must deploy it there again, not on the default tier.
    const deployed = await request(url, { method: 'PUT', path: '/_islet/functions/echo', headers: auth, body: JSON.stringify({ code: 'export default { fetch: (r) => new Response("echo " + new URL(r.url).pathname) }', env: { A: 1 }, tier: 'process' }) });
    expect(deployed.status).toBe(201);
    expect((await request(url, { host: 'echo.localhost', path: '/before' })).text).toBe('echo /before');

    const before = await status(url);
    const inFlight = request(url, { host: 'slow.localhost' });
    // Killed as soon as the engine has the request, before its report of it may have reached the
    // supervisor: the answer must be the same.
    await untilInFlight(url);
    process.kill(before.engines[0].pid, 'SIGKILL');
    const lost = await inFlight;
    expect(lost.status).toBe(502);
    expect(lost.headers['islet-error']).toBe('engine-restarted');
    // No engine saw that answer, yet it is in the metrics (the new engine serves them; it hears of
    // the count within a second). Idle keep-alive connections the dead engine held (the status
    // request's) were answered too.
    const supervisorAnswers = async () => Number((await request(url, { path: '/_islet/metrics', headers: auth })).text.match(/islet_supervisor_answers_total\{error="engine-restarted"\} (\d+)/)?.[1] ?? 0);
    await expect.poll(supervisorAnswers, { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
    // The supervisor wrote this answer on a connection it had handed over: it never read the request.
    expect(lost.json()).toMatchObject({ error: 'engine_restarted' });

    // Asked at once, these wait for the new engine instead of failing.
    const [hello, echo] = await Promise.all([request(url, { host: 'hello.localhost' }), request(url, { host: 'echo.localhost', path: '/after' })]);
    expect([hello.status, hello.text]).toEqual([200, 'Hello World!']);
    expect([echo.status, echo.text]).toEqual([200, 'echo /after']);
    const after = await status(url);
    expect(after.engines[0].pid).not.toBe(before.engines[0].pid);
    expect(after.engineRestarts).toBe(1);
    const listed = (await request(url, { path: '/_islet/functions/echo', headers: auth })).json();
    expect(listed.env).toEqual(['A']);
    expect(listed.tier).toBe('process');

    // A removal is kept too: the next engine does not bring the function back.
    expect((await request(url, { method: 'DELETE', path: '/_islet/functions/echo', headers: auth })).status).toBe(204);
    // An idle keep-alive connection is answered and closed, not kept: the supervisor cannot tell
    // it from one whose request the engine read in its last turn.
    const idle = rawConnection(url, 'GET / HTTP/1.1\r\nhost: hello.localhost\r\n\r\n');
    while (!idle.seen().includes('Hello World!')) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    process.kill(after.engines[0].pid, 'SIGKILL');
    expect(await idle.closed).toMatch(/Hello World!HTTP\/1\.1 502 [^]*islet-error: engine-restarted/);
    expect(await firstSuccess(url, 'hello.localhost', 5_000)).toBeLessThan(5_000);
    expect((await request(url, { host: 'echo.localhost' })).status).toBe(404);
  });

  it('leaves no socket file of a dead engine behind (one per crash piled up)', async () => {
    const own = await mkdtemp(path.join(tmp, 'tmpdir-'));
    const { url } = await serveWith({ functions: { hello: { entry: path.join(ROOT, 'fixtures/hello/index.ts') } } }, ['--proxy'], { TMPDIR: own });
    const sockets = () => readdirSync(own).filter((d) => d.startsWith('islet-engines-')).flatMap((d) => readdirSync(path.join(own, d)).filter((f) => f.endsWith('.sock')));
    for (let i = 0; i < 2; i++) {
      const { pid } = (await status(url)).engines[0];
      process.kill(pid, 'SIGKILL');
      expect(await firstSuccess(url, 'hello.localhost', 10_000)).toBeLessThan(10_000);
      await expect.poll(async () => (await status(url)).engines[0].pid).not.toBe(pid);
    }
    expect(sockets()).toHaveLength(1);
  });

  it('replaces an engine whose socket file was removed (a tmp cleaner), rather than failing every request', async () => {
    const own = await mkdtemp(path.join(tmp, 'tmpdir-'));
    const { url } = await serveWith({ functions: { hello: { entry: path.join(ROOT, 'fixtures/hello/index.ts') } } }, ['--proxy'], { TMPDIR: own });
    expect((await request(url, { host: 'hello.localhost' })).status).toBe(200);
    const { pid } = (await status(url)).engines[0];
    const dir = readdirSync(own).find((d) => d.startsWith('islet-engines-'))!;
    for (const f of readdirSync(path.join(own, dir))) if (f.endsWith('.sock')) rmSync(path.join(own, dir, f));
    // Refused: alive and answering over IPC, it can serve no one. Before, each request on a new
    // connection waited 3 s for a 502, for as long as the engine lived; now the engine is replaced
    // and the request waits for the new one.
    // Several at once, so that the proxy opens new connections to the engine (one may reuse the
    // connection it kept from the first request, which still works).
    const answers = await Promise.all(Array.from({ length: 6 }, () => request(url, { host: 'hello.localhost' })));
    expect(answers.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect((await status(url)).engines[0].pid).not.toBe(pid);
  });

  it('restarts with what the engine ran, not what is on disk or whichever admin answer came last; refuses a deploy before reading it', async () => {
    const entry = path.join(tmp, 'pinned.js');
    await writeFile(entry, 'export default { fetch: () => new Response("version A") }');
    const { url } = await serve({ pinned: { entry } });
    // No token: refused at once, though the body has not ended (it is never read into memory).
    const unauthenticated = rawConnection(url, `PUT /_islet/functions/x HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\r\n100000\r\n${'x'.repeat(0x100000)}\r\n`);
    await expect.poll(() => unauthenticated.seen(), { timeout: 5_000 }).toMatch(/^HTTP\/1\.1 401 /);

    // A removal that waits for a request in flight, and a deploy of the same name that succeeds
    // meanwhile: the engine ends with the deploy, and so must the next engine.
    const put = (code: string) => request(url, { method: 'PUT', path: '/_islet/functions/overlap', headers: auth, body: JSON.stringify({ code }) });
    expect((await put(SLOW.replace('600', '1500'))).status).toBe(201);
    const inFlight = request(url, { host: 'overlap.localhost' });
    await untilInFlight(url);
    const removal = request(url, { method: 'DELETE', path: '/_islet/functions/overlap', headers: auth });
    await new Promise((r) => setTimeout(r, 200));
    expect((await put('export default { fetch: () => new Response("second") }')).status).toBe(201);
    expect([(await removal).status, (await inFlight).text]).toEqual([204, 'finished']);

    // The entry file changes on disk; the engine dies.
    await writeFile(entry, 'export default { fetch: () => new Response("version B, never deployed") }');
    process.kill((await status(url)).engines[0].pid, 'SIGKILL');
    expect(await firstSuccess(url, 'pinned.localhost', 10_000)).toBeLessThan(10_000);
    expect((await request(url, { host: 'pinned.localhost' })).text).toBe('version A');
    expect((await request(url, { host: 'overlap.localhost' })).text).toBe('second');
  });

  it('cuts a connection whose answer was going out when the engine died, without writing a 502 into it', async () => {
    const { url } = await serve({
      drip: { code: `export default { fetch() { let n = 0; return new Response(new ReadableStream({
        async pull(c) { await new Promise((r) => setTimeout(r, 100)); c.enqueue(new TextEncoder().encode("chunk" + n++ + "\\n")); },
      })); } }`, limits: { cpuMs: 5000 } },
    });
    const before = await status(url);
    const drip = rawConnection(url, 'GET / HTTP/1.1\r\nhost: drip.localhost\r\n\r\n');
    while (!drip.seen().includes('chunk2')) await new Promise((r) => setTimeout(r, 10));
    process.kill(before.engines[0].pid, 'SIGKILL');
    const seen = await drip.closed;
    expect(seen).toMatch(/^HTTP\/1\.1 200/);
    expect(seen).not.toContain('502');
    // Cut, not ended: no last chunk, so the client knows the body is incomplete.
    expect(seen.endsWith('0\r\n\r\n')).toBe(false);
  });

  it('starts another standby engine when the standby dies', async () => {
    const { url, child } = await serve({ hello: { entry: path.join(ROOT, 'fixtures/hello/index.ts') } });
    const serving = (await status(url)).engines[0].pid;
    const standbys = () => childrenOf(child.pid!).filter((pid) => pid !== serving);
    await expect.poll(standbys, { timeout: 10_000 }).toHaveLength(1);
    const [first] = standbys();
    process.kill(first!, 'SIGKILL');
    await expect.poll(() => standbys().filter((pid) => pid !== first), { timeout: 10_000 }).toHaveLength(1);
    // The next crash takes it: recovery is the fast path again.
    process.kill(serving, 'SIGKILL');
    expect(await firstSuccess(url, 'hello.localhost', 10_000)).toBeLessThan(10_000);
  }, 30_000);

  it('replaces an engine that stops answering without dying (SIGSTOP)', async () => {
    const { url } = await serve({ hello: { entry: path.join(ROOT, 'fixtures/hello/index.ts') } });
    const before = await status(url);
    process.kill(before.engines[0].pid, 'SIGSTOP');
    try {
      // Heartbeats every 2 s, 3 s to answer: replaced within seconds, not when clients give up.
      expect(await firstSuccess(url, 'hello.localhost', 20_000)).toBeLessThan(20_000);
      const after = await status(url);
      expect(after.engineRestarts).toBeGreaterThanOrEqual(1);
      expect(after.engines[0].pid).not.toBe(before.engines[0].pid);
    } finally {
      try {
        process.kill(before.engines[0].pid, 'SIGCONT');
      } catch {
        // Killed and gone, as it should be.
      }
    }
  }, 30_000);

  it('drains requests in flight on SIGTERM and exits 0, also right after a memory-limit kill', async () => {
    for (let round = 0; round < 3; round++) {
      const { url, child, exited, output } = await serve({
        slow: { code: SLOW },
        bomb: { entry: path.join(ROOT, 'fixtures/memory-bomb/index.js'), limits: { memoryMb: 16, cpuMs: 5000 } },
      });
      const bomb = await request(url, { host: 'bomb.localhost' });
      expect(bomb.headers['islet-error']).toBe('memory-limit');
      const inFlight = request(url, { host: 'slow.localhost' });
      await untilInFlight(url);
      child.kill('SIGTERM');
      const res = await inFlight;
      expect([res.status, res.text]).toEqual([200, 'finished']);
      expect(await exited, output()).toEqual({ code: 0, signal: null });
      await expect(request(url, { host: 'slow.localhost' })).rejects.toThrow(/ECONNREFUSED/);
    }
  });

  it('answers a request still running at the end of the SIGTERM grace 503, also when proxied', async () => {
    const { url, child, exited } = await serveWith({ drainGraceMs: 300, functions: { slow: { code: SLOWER } } }, ['--workers', '2']);
    const inFlight = request(url, { host: 'slow.localhost' });
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    const res = await inFlight;
    expect([res.status, res.headers['islet-error'], res.json().message]).toEqual([503, 'unavailable', 'islet is shutting down']);
    expect((await exited).code).toBe(0);
  });

  it.each([['handed over', []], ['proxied', ['--workers', '2']]])('ends the SIGTERM drain with the work in flight, keep-alive clients or not: each answer then says Connection: close (%s)', async (_, flags) => {
    // Half the clients ask for quick answers (the drain must not stop at the first moment none is
    // in flight), half for slow ones, still running when the signal comes.
    const { url, child, exited } = await serve({ hello: { entry: path.join(ROOT, 'fixtures/hello/index.ts') }, slow: { code: SLOW.replace('600', '400') } }, flags);
    const { hostname, port } = new URL(url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
    const statuses: number[] = [];
    const connectionAfterSigterm: (string | undefined)[] = [];
    let sigterm = 0;
    let done = false;
    // Connection errors are not counted: a request written on a kept-alive connection as the
    // server closes it idle, or queued on the listening socket as it closes, is reset (or refused),
    // as on any HTTP/1.1 server that stops.
    const one = (fn: string) => new Promise<void>((resolve) => {
      const req = http.get({ hostname, port, path: '/', headers: { host: `${fn}.localhost` }, agent }, (res) => {
        // Past the answers whose head was already going out when the signal came.
        if (sigterm && performance.now() - sigterm > 100) connectionAfterSigterm.push(res.headers.connection);
        res.resume();
        res.on('end', () => resolve(void statuses.push(res.statusCode ?? 0)));
      });
      req.on('error', () => resolve());
    });
    const clients = Promise.all(Array.from({ length: 10 }, async (_, i) => {
      while (!done) await one(i % 2 ? 'slow' : 'hello');
    }));
    await new Promise((r) => setTimeout(r, 1_000));
    sigterm = performance.now();
    child.kill('SIGTERM');
    const { code } = await exited;
    const drainMs = performance.now() - sigterm;
    done = true;
    await clients;
    agent.destroy();
    expect(code).toBe(0);
    // Not the whole 10 s grace, after which the requests still coming were answered 503.
    expect(drainMs).toBeLessThan(4_000);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(connectionAfterSigterm.length).toBeGreaterThan(0);
    expect(connectionAfterSigterm.filter((c) => c !== 'close')).toEqual([]);
  }, 30_000);

  it.each([['handed over', []], ['proxied', ['--workers', '2']]])('recycles engines past the RSS threshold without failing a request (%s)', async (_, flags) => {
    const { url } = await serve({ hello: { entry: path.join(ROOT, 'fixtures/hello/index.ts') } }, ['--recycle-rss-mb', '1', ...flags]);
    const first = (await status(url)).engines.map((e: { pid: number }) => e.pid);
    const until = new Promise((r) => setTimeout(r, 3_500));
    const statuses = await load(url, 'hello.localhost', 8, until);
    const after = await status(url);
    expect(after.engineRecycles).toBeGreaterThanOrEqual(1);
    // Some engine was replaced (with two, on a loaded machine, maybe only the second so far).
    expect(after.engines.some((e: { pid: number }, i: number) => e.pid !== first[i])).toBe(true);
    expect(statuses.length).toBeGreaterThan(100);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });

  it('backs recycling off when a fresh engine is already past the threshold, rather than looping', async () => {
    // A fresh engine uses ~140 MB: at 1 MB each was replaced as soon as it served, about once a
    // second for as long as the server ran. Now each waits twice as long as the one before.
    const { url } = await serve({ hello: { entry: path.join(ROOT, 'fixtures/hello/index.ts') } }, ['--recycle-rss-mb', '1']);
    await new Promise((r) => setTimeout(r, 8_000));
    const after = await status(url);
    expect(after.engineRecycles).toBeGreaterThanOrEqual(1);
    expect(after.engineRecycles).toBeLessThanOrEqual(4);
    expect((await request(url, { host: 'hello.localhost' })).status).toBe(200);
  });

  it('with --workers 2, keeps each function on one engine and gathers the admin answers', async () => {
    const names = ['a1', 'b2', 'c3', 'd4', 'e5', 'f6', 'g7', 'h8'];
    const { url } = await serve({ ...Object.fromEntries(names.map((n) => [n, { code: COUNTER }])), hot: { code: SLOW } }, ['--workers', '2']);
    // Each function's counter lives in one isolate: if requests went to two engines, it would repeat.
    for (const name of names) {
      const seen: TestResponse[] = [];
      for (let i = 0; i < 6; i++) seen.push(await request(url, { host: `${name}.localhost` }));
      expect(seen.map((r) => r.text)).toEqual(['1', '2', '3', '4', '5', '6']);
    }
    // A malformed escape in an admin path is the engine's 401 (or its 404 with the token), not a 500.
    expect((await request(url, { path: '/_islet/functions/%C0' })).status).toBe(401);
    expect((await request(url, { path: '/_islet/functions/%E0%A4%A', headers: auth })).status).toBe(404);
    const s = await status(url);
    expect(s.workers).toBe(2);
    expect(s.engines).toHaveLength(2);
    expect(s.engines[0].functions + s.engines[1].functions).toBe(names.length + 1);
    expect(s.engines[0].functions).toBeGreaterThan(0);
    expect(s.engines[1].functions).toBeGreaterThan(0);
    const listed = (await request(url, { path: '/_islet/functions', headers: auth })).json();
    expect(listed.functions.map((f: { name: string }) => f.name).sort()).toEqual([...names, 'hot'].sort());

    // Log streams are no load: forty followers of a1 do not make it spill (its counter goes on).
    const { hostname, port } = new URL(url);
    const streams = await Promise.all(Array.from({ length: 40 }, () => new Promise<http.ClientRequest>((resolve) => {
      const req = http.get({ hostname, port, path: '/_islet/functions/a1/logs', headers: auth }, () => resolve(req));
    })));
    for (let i = 7; i <= 9; i++) expect((await request(url, { host: 'a1.localhost' })).text).toBe(String(i));
    for (const stream of streams) stream.destroy();

    // Someone follows hot's logs from before it spills: the stream must carry every request's
    // line, from whichever engine served it.
    let hotLog = '';
    const hotTail = await new Promise<http.ClientRequest>((resolve) => {
      const req = http.get({ hostname, port, path: '/_islet/functions/hot/logs', headers: auth }, (res) => {
        expect(res.statusCode).toBe(200);
        res.setEncoding('utf8');
        res.on('data', (text: string) => (hotLog += text));
        resolve(req);
      });
    });
    const requestLines = () => hotLog.split('\n').filter((line) => line.includes('"msg":"request"')).length;

    // 80 requests in flight at once for one function: past its home's bound, it spills to the
    // other engine (deployed there in the background), and nothing fails on the way.
    for (let wave = 0; wave < 2; wave++) {
      const answers = await Promise.all(Array.from({ length: 80 }, () => request(url, { host: 'hot.localhost' })));
      expect(answers.filter((r) => r.status !== 200)).toEqual([]);
    }
    const spilled = await status(url);
    expect(spilled.engines[0].functions + spilled.engines[1].functions).toBe(names.length + 2);
    for (let waited = 0; requestLines() < 160 && waited < 2_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    expect(requestLines()).toBe(160);
    // Whole lines, each one JSON, however the two engines' streams interleaved.
    for (const line of hotLog.split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();

    // The stream outlives an engine crash: it follows hot on the engines that replace them.
    const linesBefore = requestLines();
    for (const engine of spilled.engines) process.kill(engine.pid, 'SIGKILL');
    expect(await firstSuccess(url, 'hot.localhost', 10_000)).toBeLessThan(10_000);
    // Requests go on until one's line arrives: the stream may rejoin just after the first answer.
    for (let waited = 0; requestLines() === linesBefore && waited < 3_000; waited += 20) {
      await request(url, { host: 'hot.localhost' });
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(requestLines()).toBeGreaterThan(linesBefore);
    hotTail.destroy();
    expect((await request(url, { path: '/_islet/functions/nope/logs', headers: auth })).status).toBe(404);
    expect((await request(url, { path: '/_islet/functions/hot/logs' })).status).toBe(401);
    expect(spilled.functions).toBe(names.length + 1);
    expect((await request(url, { path: '/_islet/status' })).status).toBe(401);
    // A deploy goes to the function's home engine, and stays there.
    expect((await request(url, { method: 'PUT', path: '/_islet/functions/late', headers: auth, body: JSON.stringify({ code: COUNTER }) })).status).toBe(201);
    for (let i = 1; i <= 4; i++) expect((await request(url, { host: 'late.localhost' })).text).toBe(String(i));
  });
  it('with --workers 2, a service binding reaches its function on the other engine: it is placed beside the caller, and kept up to date', async () => {
    // The target's cron (every second) reports here: its copy beside the callers must not run it too.
    let cronRuns = 0;
    const counter = http.createServer((_req, res) => {
      cronRuns++;
      res.end();
    });
    await new Promise<void>((r) => counter.listen(0, '127.0.0.1', r));
    const cronUrl = `http://127.0.0.1:${(counter.address() as import('node:net').AddressInfo).port}/`;
    const target = (v: string) => ({
      code: `export default { fetch: () => new Response("${v}"), scheduled: async () => { await fetch("${cronUrl}") } }`,
      crons: ['* * * * * *'],
      egress: { allowPrivate: true },
    });
    const callers = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8'];
    const caller = { code: 'export default { fetch: async (r, env) => new Response(await (await env.T.fetch("https://target/")).text()) }', services: { T: 'target' } };
    const { url } = await serve({ ...Object.fromEntries(callers.map((n) => [n, caller])), target: target('v1') }, ['--workers', '2']);
    const before = await status(url);
    expect(before.engines[0].functions + before.engines[1].functions).toBe(callers.length + 1);
    // Eight callers over two engines: some live away from target (all on one engine: 1 in 256).
    for (const name of callers) expect((await request(url, { host: `${name}.localhost` })).text).toBe('v1');
    const after = await status(url);
    expect(after.engines[0].functions + after.engines[1].functions).toBe(callers.length + 2);
    // A redeploy of the target reaches its copy beside the callers too.
    const runsBefore = cronRuns;
    await new Promise((r) => setTimeout(r, 3_000));
    // Once a second, from the target's home engine only (two engines would make it about six).
    expect(cronRuns - runsBefore).toBeGreaterThanOrEqual(2);
    expect(cronRuns - runsBefore).toBeLessThanOrEqual(4);
    counter.close();
    expect((await request(url, { method: 'PUT', path: '/_islet/functions/target', headers: auth, body: JSON.stringify(target('v2')) })).status).toBe(200);
    for (let waited = 0; waited < 3_000; waited += 50) {
      const seen = await Promise.all(callers.map(async (name) => (await request(url, { host: `${name}.localhost` })).text));
      if (seen.every((t) => t === 'v2')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const name of callers) expect((await request(url, { host: `${name}.localhost` })).text).toBe('v2');
  });

  it('with --workers 2, a target removed or redeployed while its copy loads beside the caller does not leave that copy behind', async () => {
    // caller and both targets on different engines, so a binding call places a copy beside caller.
    const ring = new HashRing({ engines: 2 });
    expect(ring.home('tgt')).toBe(ring.home('moved'));
    expect(ring.home('caller')).not.toBe(ring.home('tgt'));
    const slow = (v: string) => ({ code: `await new Promise((r) => setTimeout(r, 1500)); export default { fetch: () => new Response("${v}") }` });
    const caller = {
      code: 'export default { fetch: async (r, env) => { const t = await (new URL(r.url).pathname === "/gone" ? env.G : env.M).fetch("https://t/"); return new Response(t.status + " " + await t.text()) } }',
      services: { G: 'tgt', M: 'moved' },
    };
    const { url } = await serve({ caller, tgt: slow('v1'), moved: slow('v1') }, ['--workers', '2']);
    const via = async (p: string) => (await request(url, { host: 'caller.localhost', path: p })).text;
    // The first calls start loading the copies; the operator removes one target and redeploys the other meanwhile.
    const first = [via('/gone'), via('/moved')];
    await new Promise((r) => setTimeout(r, 500));
    expect((await request(url, { method: 'DELETE', path: '/_islet/functions/tgt', headers: auth })).status).toBe(204);
    expect((await request(url, { method: 'PUT', path: '/_islet/functions/moved', headers: auth, body: JSON.stringify({ code: 'export default { fetch: () => new Response("v2") }' }) })).status).toBe(200);
    const [gone, moved] = await Promise.all(first);
    expect(gone).toMatch(/^404 /);
    expect(moved).toBe('200 v2');
    expect(await via('/gone')).toMatch(/^404 /);
    expect(await via('/moved')).toBe('200 v2');
    // Placed now, so a later redeploy reaches the copy.
    expect((await request(url, { method: 'PUT', path: '/_islet/functions/moved', headers: auth, body: JSON.stringify({ code: 'export default { fetch: () => new Response("v3") }' }) })).status).toBe(200);
    for (let waited = 0; waited < 3_000 && (await via('/moved')) !== '200 v3'; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(await via('/moved')).toBe('200 v3');
  });

  it('in proxy mode, one tenant\'s many slow requests wait in its engine\'s fair queue, not ahead of everyone in the supervisor', async () => {
    const { url } = await serve({
      slow: { code: SLOWER.replace('5000', '1500'), limits: { maxReplicas: 1 } },
      hello: { code: 'export default { fetch: () => new Response("hi") }' },
    }, ['--proxy']);
    const { hostname, port } = new URL(url);
    // 200 slow requests in flight at once: more than 128, the connections the proxy used to keep
    // to an engine, all of which they then held.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 200 });
    const slow = Promise.all(Array.from({ length: 200 }, () => new Promise<number>((resolve) => {
      http.get({ hostname, port, path: '/', headers: { host: 'slow.localhost' }, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      }).on('error', () => resolve(-1));
    })));
    await new Promise((r) => setTimeout(r, 500));
    const started = performance.now();
    expect((await request(url, { host: 'hello.localhost' })).text).toBe('hi');
    expect(performance.now() - started).toBeLessThan(1_500);
    // 64 run and 136 wait in the engine's queue (256 places), 1.5 s a round: every one is answered.
    expect(new Set(await slow)).toEqual(new Set([200]));
    agent.destroy();
  });

  it('carries WebSockets on the connections it hands to engines, and says plainly that --proxy does not', async () => {
    const echo = `export default { fetch() {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.addEventListener('message', (e) => server.send('echo:' + e.data));
      return new Response(null, { status: 101, webSocket: client });
    } }`;
    const handed = await serve({ echo: { code: echo } });
    const ws = new WebSocket(handed.url.replace('http', 'ws'), { headers: { host: 'echo.localhost' } });
    const answer = new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('hi'));
      ws.on('message', (data) => resolve(String(data)));
      ws.on('error', reject);
    });
    expect(await answer).toBe('echo:hi');
    // Its engine dies: the connection is cut (1006), not answered with a 502 written into the
    // WebSocket stream, and a new socket reaches the replacement engine.
    const errors: string[] = [];
    ws.on('error', (err) => errors.push(err.message));
    const closed = new Promise<number>((resolve) => ws.on('close', resolve));
    process.kill((await status(handed.url)).engines[0].pid, 'SIGKILL');
    expect(await closed).toBe(1006);
    expect(errors).toEqual([]);
    const again = new WebSocket(handed.url.replace('http', 'ws'), { headers: { host: 'echo.localhost' } });
    expect(await new Promise<string>((resolve, reject) => {
      again.on('open', () => again.send('again'));
      again.on('message', (data) => resolve(String(data)));
      again.on('error', reject);
    })).toBe('echo:again');
    again.close();
    const proxied = await serve({ echo: { code: echo } }, ['--proxy']);
    const refused = await request(proxied.url, { host: 'echo.localhost', headers: { upgrade: 'websocket', connection: 'upgrade' } });
    expect([refused.status, refused.headers['islet-error']]).toEqual([501, 'websocket-unsupported']);
  });

  it('in proxy mode, a request undici refuses or a tenant stream that fails costs its own connection, not the engine', async () => {
    const { url } = await serve({
      c1: { code: COUNTER },
      reason: { code: 'export default { fetch: () => new Response("x", { status: 299, statusText: "Custom Reason" }) }' },
      broken: { code: `export default { fetch() { let n = 0; return new Response(new ReadableStream({ pull(c) { if (n++ < 2) c.enqueue(new Uint8Array(8)); else c.error(new Error('broke')); } })); } }` },
    }, ['--workers', '2']);
    const pids = async () => (await status(url)).engines.map((e: { pid: number }) => e.pid);
    const before = await pids();
    const raw = (text: string) => rawConnection(url, text).closed;
    expect(await raw('OPTIONS * HTTP/1.1\r\nHost: c1.localhost\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw('GET / HTTP/1.1\r\nHost: c1.localhost\r\nHost: c1.localhost\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    // The failing stream is cut (no last chunk), and only it.
    const cut = await raw('GET / HTTP/1.1\r\nHost: broken.localhost\r\n\r\n');
    expect(cut).toMatch(/^HTTP\/1\.1 200/);
    expect(cut.endsWith('0\r\n\r\n')).toBe(false);
    // The counter's isolate lived through all of it: its engine was never replaced.
    for (let i = 1; i <= 3; i++) expect((await request(url, { host: 'c1.localhost' })).text).toBe(String(i));
    await new Promise((r) => setTimeout(r, 300));
    expect(await pids()).toEqual(before);
    expect((await status(url)).engineRestarts).toBe(0);
    // The supervisor routes as the engines do: an absolute-form target names the function, and an
    // escaped or dotted path to the admin API is the admin API of all engines.
    expect(await raw('GET http://c1.localhost/ HTTP/1.1\r\nHost: nothing.localhost\r\nConnection: close\r\n\r\n')).toMatch(/\r\n\r\n4$/);
    expect((await request(url, { path: '/%5Fislet/status', headers: auth })).json().engines).toHaveLength(2);
    expect((await request(url, { path: '/x/../_islet/status', headers: auth })).json().engines).toHaveLength(2);
    expect(await raw('CONNECT c1.localhost:443 HTTP/1.1\r\nHost: c1.localhost:443\r\n\r\n')).toMatch(/^HTTP\/1\.1 501 /);
    // A tenant's reason phrase passes through the proxy.
    expect(await raw('GET / HTTP/1.1\r\nHost: reason.localhost\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 299 Custom Reason\r\n/);
  });
});
