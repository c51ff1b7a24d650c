// Stream response bodies end to end over a real socket: bytes go out as the tenant produces them,
// production pauses while the client does not read (backpressure), a client that leaves cancels
// the tenant's stream, and a large body passes without the host holding it.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine.ts';
import { createGateway } from './app.ts';
import { serveGateway, type ServedGateway } from './server.ts';
import { request } from './test-http.ts';

const CHUNK = 64 * 1024;

// One isolate serves every request of a function, so /count can report what /stream has done.
const streamer = `
let pulled = 0, cancelled = false;
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/count') return Response.json({ pulled, cancelled });
    if (url.pathname === '/sized') {
      const total = Number(url.searchParams.get('mb')) * 1024 * 1024;
      const chunk = new Uint8Array(${CHUNK}).fill(120);
      let sent = 0;
      return new Response(new ReadableStream({
        pull(c) { if (sent >= total) return c.close(); sent += chunk.length; c.enqueue(chunk); },
      }, { highWaterMark: 0 }));
    }
    if (url.pathname === '/fails') {
      let n = 0;
      return new Response(new ReadableStream({ pull(c) { if (n++ < 2) c.enqueue(new Uint8Array(10)); else c.error(new Error('broke')); } }));
    }
    pulled = 0; cancelled = false;
    return new Response(new ReadableStream({
      pull(c) { pulled++; c.enqueue(new Uint8Array(${CHUNK})); },
      cancel() { cancelled = true; },
    }, { highWaterMark: 0 }), { headers: { 'content-type': 'application/octet-stream' } });
  },
};`;

let engine: Engine;
let served: ServedGateway;

beforeAll(async () => {
  engine = new Engine();
  // Producing 512 MB in 64 KB chunks costs the isolate 12-25 µs of CPU a chunk: far over the default 50 ms.
  await engine.deploy('streamer', { code: streamer, limits: { cpuMs: 10_000, wallMs: 60_000 } });
  served = await serveGateway(createGateway(engine), { port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await served.close(100);
  await engine.close();
});

const count = async () => (await request(served.url, { path: '/count', host: 'streamer.localhost' })).json<{ pulled: number; cancelled: boolean }>();
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('streamed response bodies', () => {
  it('pause while the client does not read, and are cancelled when it leaves', async () => {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: served.port, path: '/endless', headers: { host: 'streamer.localhost' } }, resolve).on('error', reject);
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    // Read 1 MB, then stop reading.
    let received = 0;
    await new Promise<void>((resolve) => {
      res.on('data', (b: Buffer) => {
        received += b.length;
        if (received >= 1024 * 1024) {
          res.pause();
          resolve();
        }
      });
    });
    await settle(300);
    const paused = await count();
    await settle(300);
    const later = await count();
    // Production stopped: what was pulled fits in the socket buffers and the host's read-ahead.
    expect(later.pulled).toBe(paused.pulled);
    expect(later.pulled * CHUNK).toBeLessThan(received + 16 * 1024 * 1024);
    res.destroy();
    await expect.poll(async () => (await count()).cancelled, { timeout: 2_000 }).toBe(true);
  });

  it('carries 512 MB through without the host holding it', async () => {
    const before = process.memoryUsage.rss();
    let peak = before;
    const watch = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 20);
    const received = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: served.port, path: '/sized?mb=512', headers: { host: 'streamer.localhost' } }, (res) => {
        let n = 0;
        res.on('data', (b: Buffer) => { n += b.length; });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      }).on('error', reject);
    });
    clearInterval(watch);
    expect(received).toBe(512 * 1024 * 1024);
    expect(peak - before).toBeLessThan(128 * 1024 * 1024);
  }, 60_000);

  it('cuts the connection when the tenant stream errors midway', async () => {
    const outcome = await new Promise<string>((resolve) => {
      http.get({ host: '127.0.0.1', port: served.port, path: '/fails', headers: { host: 'streamer.localhost' } }, (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve('ended cleanly'));
        res.on('error', () => resolve('aborted'));
        res.on('aborted', () => resolve('aborted'));
      }).on('error', () => resolve('aborted'));
    });
    expect(outcome).toBe('aborted');
    // The isolate keeps serving.
    expect((await request(served.url, { path: '/count', host: 'streamer.localhost' })).status).toBe(200);
  });
});
