// islet() inside a user's own Hono app on @hono/node-server, where middleware before it may have
// read the request body already (a validator, a logger).
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
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
  await engine.deploy('mirror', {
    code: `export default { async fetch(r) {
      const body = new Uint8Array(await r.arrayBuffer());
      return Response.json({ url: r.url, auth: r.headers.get('authorization'), user: r.headers.get('x-user'), bytes: body.length, sum: body.reduce((a, b) => a + b, 0) });
    } }`,
    // Bodies of megabytes through the isolate (past 17 ms of CPU in a quiet run): bytes are what is tested.
    limits: { maxBodyBytes: 8 * 1024 * 1024, wallMs: 1_000, cpuMs: 1_000 },
  });
  await engine.deploy('cookies', {
    code: `export default { fetch: () => new Response(new Uint8Array([1, 2]), { headers: [['set-cookie', 'a=1'], ['set-cookie', 'b=2']] }) }`,
  });
  const app = new Hono();
  app.post('/logged/*', async (c, next) => {
    logged = await c.req.text();
    await next();
  });
  // An auth layer: the credential stays here, the function gets who it was.
  app.use('/auth/*', async (c, next) => {
    c.req.raw.headers.delete('authorization');
    c.req.raw.headers.set('x-user', 'bob');
    await next();
  });
  app.use('/rewrite/*', async (c, next) => {
    c.req.raw = new Request(c.req.url.replace('/rewrite/', '/inner/'), c.req.raw);
    await next();
  });
  app.use('/limited/*', bodyLimit({ maxSize: 8 * 1024 * 1024 }));
  app.use('/touched/*', async (c, next) => {
    if (!c.req.raw.body) return c.text('no body', 400);
    await next();
  });
  // CORS before islet(): Hono then puts a copy of the function's response in c.res.
  app.use('/cors/*', cors());
  app.all('/cors/*', islet(engine, { function: 'cookies' }));
  app.all('/auth/*', islet(engine, { function: 'mirror' }));
  app.all('/behind-tls/*', islet(engine, { function: 'mirror', trustProxy: true }));
  app.all('/rewrite/*', islet(engine, { function: 'mirror' }));
  app.all('/limited/*', islet(engine, { function: 'mirror' }));
  app.all('/touched/*', islet(engine, { function: 'mirror' }));
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

describe('islet() after middleware that changed the request', () => {
  it('hands the function the headers and URL as the app left them, not as they arrived', async () => {
    const seen = (await request(served.url, { path: '/auth/x', headers: { authorization: 'Bearer secret' } })).json();
    expect([seen.auth, seen.user]).toEqual([null, 'bob']);
    expect((await request(served.url, { path: '/rewrite/a?b=1' })).json().url).toMatch(/\/inner\/a\?b=1$/);
  });

  it('passes every byte of a body that middleware wrapped or only looked at (Hono bodyLimit)', async () => {
    for (const path of ['/limited/x', '/touched/x']) {
      for (const size of [200 * 1024, 3_000_000]) {
        const body = Buffer.alloc(size, 7);
        const seen = (await request(served.url, { method: 'POST', path, body })).json();
        expect([path, seen.bytes, seen.sum]).toEqual([path, size, size * 7]);
      }
    }
  });
});

describe('islet() after middleware that looked at the request', () => {
  /** What the server answers to `text` on a new connection, once it closes it (or 5 s). */
  const exchange = (text: string) => new Promise<string>((resolve) => {
    const socket = net.connect(served.port, '127.0.0.1');
    let seen = '';
    socket.on('data', (b) => (seen += b));
    socket.on('error', () => {});
    socket.once('close', () => resolve(seen));
    setTimeout(() => socket.destroy(), 5_000);
    socket.write(text);
  });

  it('still refuses two Host headers and a body trickling in past wallMs', async () => {
    expect(await exchange('GET /auth/x HTTP/1.1\r\nHost: a.localhost\r\nHost: b.localhost\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    const slow = await exchange('POST /auth/x HTTP/1.1\r\nHost: a.localhost\r\nContent-Length: 1000\r\n\r\n0123456789');
    expect(slow).toMatch(/^HTTP\/1\.1 408 [^]*islet-error: request-timeout/);
  });
});

describe('islet() after middleware that copies the response (CORS)', () => {
  it("keeps the function's Set-Cookies apart and invents no Content-Type for its bytes", async () => {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: served.port, path: '/cors/x', headers: { origin: 'https://a.example' } }, resolve).on('error', reject);
    });
    res.resume();
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['content-type']).toBeUndefined();
  });
});

describe('islet() behind a proxy', () => {
  it('takes the scheme from X-Forwarded-Proto only when told to trust the proxy', async () => {
    const url = (path: string, proto?: string) => request(served.url, { path, headers: proto ? { 'x-forwarded-proto': proto } : {} }).then((r) => r.json().url as string);
    expect(await url('/behind-tls/a?b=1', 'https, http')).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/behind-tls\/a\?b=1$/);
    expect(await url('/behind-tls/a')).toMatch(/^http:/);
    // Serialized as the URL standard does: a port that is the scheme's default is dropped.
    const defaultPort = await request(served.url, { path: '/behind-tls/p', host: 'example.com:443', headers: { 'x-forwarded-proto': 'https' } });
    expect(defaultPort.json().url).toBe('https://example.com/behind-tls/p');
    expect(await url('/auth/a', 'https')).toMatch(/^http:/);
  });
});

describe('Engine.fetch', () => {
  it('counts a streamed body against maxBodyBytes as it arrives, without reading it all first', async () => {
    let pulled = 0;
    const endless = () => new ReadableStream<Uint8Array>({ pull(c) { pulled++; c.enqueue(new Uint8Array(64 * 1024)); } });
    const res = await engine.fetch('echo', new Request('http://echo.test/', { method: 'POST', body: endless(), duplex: 'half' } as RequestInit));
    expect([res.status, res.headers.get('islet-error')]).toEqual([413, 'body-too-large']);
    expect(pulled).toBeLessThan(10);
    // Past the limit only after the first megabyte: it streams to the tenant, whose read then fails.
    await engine.deploy('count', { code: 'export default { async fetch(r) { return new Response(String((await r.arrayBuffer()).byteLength)) } }', limits: { maxBodyBytes: 3 * 1024 * 1024 } });
    let sent = 0;
    const big = () => new ReadableStream<Uint8Array>({ pull(c) { sent += 64 * 1024; c.enqueue(new Uint8Array(64 * 1024)); if (sent >= 2 * 1024 * 1024) c.close(); } });
    expect(await (await engine.fetch('count', new Request('http://count.test/', { method: 'POST', body: big(), duplex: 'half' } as RequestInit))).text()).toBe(String(2 * 1024 * 1024));
    pulled = 0;
    const tooBig = await engine.fetch('count', new Request('http://count.test/', { method: 'POST', body: endless(), duplex: 'half' } as RequestInit));
    expect([tooBig.status, tooBig.headers.get('islet-error')]).toEqual([500, 'exception']);
    expect(pulled).toBeLessThan(60);
    // A small declared length that the stream does not keep to is counted all the same.
    const liar = new Request('http://echo.test/', {
      method: 'POST', headers: { 'content-length': '10' }, duplex: 'half',
      body: new ReadableStream<Uint8Array>({ pull(c) { c.enqueue(new Uint8Array(64 * 1024)); } }),
    } as RequestInit);
    expect((await engine.fetch('echo', liar)).headers.get('islet-error')).toBe('body-too-large');
  });
});

describe('islet() on HTTP/2', () => {
  it('gives the function the URL from :authority and no pseudo-headers', async () => {
    const app = new Hono();
    app.all('*', islet(engine, { function: 'mirror' }));
    const server = createAdaptorServer({ fetch: app.fetch, createServer: http2.createServer });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as AddressInfo).port;
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const req = client.request({ ':method': 'POST', ':path': '/h2/a?b=1', ':authority': `example.test:${port}`, authorization: 'Bearer t' });
      req.end('body');
      const text = await new Promise<string>((resolve, reject) => {
        let data = '';
        req.setEncoding('utf8');
        req.on('data', (d: string) => (data += d));
        req.on('end', () => resolve(data));
        req.on('error', reject);
      });
      const seen = JSON.parse(text);
      expect([seen.url, seen.auth, seen.bytes]).toEqual([`http://example.test:${port}/h2/a?b=1`, 'Bearer t', 4]);
    } finally {
      client.close();
      server.close();
    }
  });
});

describe("islet() and a tenant's reason phrase", () => {
  it('goes out with its response, not with one that middleware put in its place', async () => {
    await engine.deploy('phrase', { code: 'export default { fetch: () => new Response("x", { status: 403, statusText: "Custom" }) }' });
    const app = new Hono();
    app.use('/replaced/*', async (c, next) => {
      await next();
      c.res = new Response('blocked', { status: 403 });
    });
    app.all('*', islet(engine, { function: 'phrase' }));
    const own = await serveGateway(app, { port: 0, host: '127.0.0.1' });
    const statusLine = (path: string) => new Promise<string>((resolve) => {
      http.get({ host: '127.0.0.1', port: own.port, path }, (res) => {
        res.resume();
        resolve(`${res.statusCode} ${res.statusMessage}`);
      });
    });
    try {
      expect(await statusLine('/kept')).toBe('403 Custom');
      expect(await statusLine('/replaced/x')).toBe('403 Forbidden');
    } finally {
      await own.close(100);
    }
  });
});
