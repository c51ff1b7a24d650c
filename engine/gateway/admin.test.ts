// The admin API over a real server, for what its callers wait on: a removal is answered when the
// function is out of routing, not when its requests in flight are done.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine.ts';
import { createGateway } from './app.ts';
import { serveGateway, type ServedGateway } from './server.ts';
import { request } from './test-http.ts';

const TOKEN = 'admin-token';
const auth = { authorization: `Bearer ${TOKEN}` };
let engine: Engine;
let served: ServedGateway;

beforeAll(async () => {
  engine = new Engine();
  served = await serveGateway(createGateway(engine, { adminToken: TOKEN }), { port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await served.close(100);
  await engine.close();
});

describe('DELETE /_islet/functions/:name', () => {
  it('answers 204 at once, while the requests in flight finish on the function', async () => {
    await engine.deploy('slow', { code: 'export default { async fetch() { await new Promise((r) => setTimeout(r, 1500)); return new Response("finished") } }' });
    const inFlight = request(served.url, { host: 'slow.localhost' });
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    const removed = await request(served.url, { method: 'DELETE', path: '/_islet/functions/slow', headers: auth });
    // Before, it waited for the request above (up to the function's wallMs).
    expect(removed.status).toBe(204);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect((await request(served.url, { host: 'slow.localhost' })).status).toBe(404);
    expect((await inFlight).text).toBe('finished');
    expect((await request(served.url, { method: 'DELETE', path: '/_islet/functions/slow', headers: auth })).status).toBe(404);
  });
});
