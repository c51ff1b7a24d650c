// The live log stream end to end: a real server, GET /_islet/functions/:name/logs read as NDJSON
// while the function is called, and the follower gone once the client disconnects.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, Engine, serveGateway } from '../index.ts';
import type { ServedGateway } from '../gateway/index.ts';
import { request } from '../gateway/test-http.ts';
import { LogTap, ndjsonStream } from './log-tap.ts';

const TOKEN = 'log-token';
let engine: Engine;
let server: ServedGateway;

beforeAll(async () => {
  engine = new Engine();
  await engine.deploy('chatty', { code: 'export default { fetch(r) { console.warn("seen", new URL(r.url).pathname); return new Response("ok") } }' });
  await engine.deploy('quiet', { code: 'export default { fetch: () => new Response("shh") }' });
  server = await serveGateway(createGateway(engine, { adminToken: TOKEN }), { port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  engine.logs.close();
  await server.close(0);
  await engine.close();
});

/** Opens the stream and collects its lines until `close()`. */
function follow(fn: string): Promise<{ lines: Record<string, unknown>[]; status: number; contentType: string; next(): Promise<void>; close(): void }> {
  return new Promise((resolve, reject) => {
    const lines: Record<string, unknown>[] = [];
    let wake: (() => void) | undefined;
    const req = http.get(`${server.url}/_islet/functions/${fn}/logs`, { headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      let pending = '';
      res.on('data', (chunk: Buffer) => {
        pending += chunk.toString();
        for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
          lines.push(JSON.parse(pending.slice(0, i)) as Record<string, unknown>);
          pending = pending.slice(i + 1);
          wake?.();
        }
      });
      res.on('error', () => {});
      resolve({
        lines, status: res.statusCode ?? 0, contentType: String(res.headers['content-type']),
        next: () => new Promise<void>((r) => (wake = r)),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

describe('GET /_islet/functions/:name/logs', () => {
  it('streams one function\'s request lines and console output as NDJSON', async () => {
    const stream = await follow('chatty');
    expect([stream.status, stream.contentType]).toEqual([200, 'application/x-ndjson']);
    while (stream.lines.length === 0) await stream.next();
    expect(stream.lines[0]).toMatchObject({ fn: 'chatty', msg: 'following logs' });
    await request(server.url, { host: 'chatty.localhost', path: '/a?token=secret' });
    await request(server.url, { host: 'quiet.localhost' });
    while (!stream.lines.some((l) => l.msg === 'request')) await stream.next();
    expect(stream.lines).toContainEqual(expect.objectContaining({ fn: 'chatty', level: 'warn', src: 'console', msg: 'seen /a' }));
    // Which request it was (its method and path, not its query, which may carry a token).
    expect(stream.lines).toContainEqual(expect.objectContaining({ fn: 'chatty', msg: 'request', method: 'GET', path: '/a', status: 200, ms: expect.any(Number), cpuMs: expect.any(Number) }));
    expect(stream.lines.every((l) => l.fn === 'chatty')).toBe(true);
    expect(engine.logs.following('chatty')).toBe(true);
    stream.close();
    const deadline = Date.now() + 2_000;
    while (engine.logs.following('chatty') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // The client went away: nobody follows, and publishing costs nothing again.
    expect(engine.logs.following('chatty')).toBe(false);
  });

  it('answers 404 for an unknown function and 401 without the token', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await request(server.url, { path: '/_islet/functions/nobody/logs', headers: auth })).status).toBe(404);
    expect((await request(server.url, { path: '/_islet/functions/chatty/logs' })).status).toBe(401);
  });
});

describe('LogTap', () => {
  it('tells a slow reader how many lines it missed, and ends every stream on close', async () => {
    const tap = new LogTap();
    const reader = ndjsonStream(tap, 'f').getReader();
    const text = async () => new TextDecoder().decode((await reader.read()).value);
    expect(await text()).toContain('following logs');
    for (let i = 0; i < 1_005; i++) tap.publish({ time: 0, level: 'info', fn: 'f', msg: `line ${i}` });
    for (let i = 0; i < 1_000; i++) await reader.read();
    tap.publish({ time: 0, level: 'info', fn: 'f', msg: 'after' });
    expect(await text()).toContain('5 line(s) dropped');
    expect(await text()).toContain('after');
    tap.close();
    expect((await reader.read()).done).toBe(true);
    expect(tap.following('f')).toBe(false);
  });
});
