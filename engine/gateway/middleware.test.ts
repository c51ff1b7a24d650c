// islet() inside a user's own Hono app on @hono/node-server, where middleware before it may have
// read the request body already (a validator, a logger).
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine.ts';
import { islet } from './middleware.ts';
import { serveGateway, type ServedGateway } from './server.ts';
import { request } from './test-http.ts';

let engine: Engine;
let served: ServedGateway;
let logged = '';

beforeAll(async () => {
  engine = new Engine();
  await engine.deploy('echo', { code: 'export default { async fetch(r) { return new Response(r.method + " " + await r.text()) } }', limits: { maxBodyBytes: 64 } });
  const app = new Hono();
  app.post('/logged/*', async (c, next) => {
    logged = await c.req.text();
    await next();
  });
  app.all('*', islet(engine, { function: 'echo' }));
  served = await serveGateway(app, { port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await served.close(100);
  await engine.close();
});

describe('islet() after middleware that read the body', () => {
  it('hands the function the body Hono kept, within its body limit', async () => {
    const res = await request(served.url, { method: 'POST', path: '/logged/x', body: 'hello body' });
    expect([res.status, res.text, logged]).toEqual([200, 'POST hello body', 'hello body']);
    const chunked = await request(served.url, { method: 'POST', path: '/logged/y', body: 'chunked body', headers: { 'transfer-encoding': 'chunked' } });
    expect(chunked.text).toBe('POST chunked body');
    const big = await request(served.url, { method: 'POST', path: '/logged/z', body: 'x'.repeat(100) });
    expect([big.status, big.headers['islet-error']]).toEqual([413, 'body-too-large']);
    // Untouched bodies still come off the socket.
    expect((await request(served.url, { method: 'POST', path: '/direct', body: 'raw' })).text).toBe('POST raw');
  });
});
