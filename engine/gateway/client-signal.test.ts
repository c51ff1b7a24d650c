// request.signal over a real socket: it aborts when the client disconnects before its answer is
// complete (a handler still waiting, a body still streaming, a subrequest that follows it), and
// never for a request that was answered whole.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine.ts';
import { createGateway } from './app.ts';
import { serveGateway, type ServedGateway } from './server.ts';
import { disconnectEarly, request } from './test-http.ts';

const watcher = fileURLToPath(new URL('../../fixtures/client-signal/index.js', import.meta.url));

let engine: Engine;
let served: ServedGateway;
let upstream: http.Server;
let upstreamUrl: string;
const upstreamClosed: string[] = [];

const host = 'watcher.localhost';
const seen = async () => (await request(served.url, { path: '/seen', host })).json<string[]>();

const leave = (path: string, ms: number, afterFirstBytes = false) => disconnectEarly(served.url, { path, host }, afterFirstBytes ? 'first-bytes' : ms);

beforeAll(async () => {
  engine = new Engine({ logger: pino({ level: 'silent' }) });
  await engine.deploy('watcher', { entry: watcher, limits: { wallMs: 20_000, cpuMs: 1_000 }, egress: { allowPrivate: true } });
  served = await serveGateway(createGateway(engine), { port: 0, host: '127.0.0.1' });
  // An upstream that never answers, and notes when the proxy's connection to it closes.
  upstream = http.createServer((req) => req.socket.once('close', () => upstreamClosed.push(req.url ?? '')));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});

afterAll(async () => {
  upstream.closeAllConnections();
  upstream.close();
  await served?.close();
  await engine?.close();
});

describe('request.signal', () => {
  it('aborts with an AbortError when the client disconnects while the handler waits', async () => {
    await leave('/listen?tag=wait', 150);
    await expect.poll(seen, { timeout: 3_000 }).toContain('wait:AbortError');
  });

  it('is already aborted when first read after the client left', async () => {
    await leave('/read-late?tag=late', 100);
    await expect.poll(seen, { timeout: 3_000 }).toContain('late:true');
  });

  it('aborts when the client leaves midway through an upload the handler has not read', async () => {
    // Past ~64 KB of an unread streamed body (declared over 1 MB), Node stops reading the socket
    // and so never saw the client go: the request held its place until its wall-clock limit.
    const { hostname, port } = new URL(served.url);
    const socket = (await import('node:net')).connect(Number(port), hostname);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`POST /listen?tag=upload HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5000000\r\n\r\n`);
    socket.write(Buffer.alloc(300_000, 120));
    await new Promise((r) => setTimeout(r, 200));
    socket.destroy();
    await expect.poll(seen, { timeout: 5_000 }).toContain('upload:AbortError');
  });

  it('aborts when the client leaves a streamed body midway', async () => {
    await leave('/stream?tag=stream', 0, true);
    await expect.poll(seen, { timeout: 3_000 }).toContain('stream:true');
  });

  it('does not abort for a request answered whole, even when its connection closes later', async () => {
    const res = await request(served.url, { path: '/answered?tag=whole', host });
    expect(res.text).toBe('whole');
    await expect.poll(seen, { timeout: 3_000 }).toContain('whole:false');
  });

  it('follows the signal of a Request handed to Engine.fetch', async () => {
    const controller = new AbortController();
    const answer = engine.fetch('watcher', new Request('http://watcher.localhost/listen?tag=library', { signal: controller.signal }));
    setTimeout(() => controller.abort(), 100);
    expect(await (await answer).text()).toBe('nobody reads this');
    expect(await seen()).toContain('library:AbortError');
  });

  it('cancels a subrequest that follows it (a proxy forwarding the incoming request)', async () => {
    await leave(`/forward?to=${encodeURIComponent(`${upstreamUrl}/hang`)}`, 300);
    await expect.poll(() => upstreamClosed, { timeout: 3_000 }).toContain('/hang');
  });
});
