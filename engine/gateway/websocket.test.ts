// WebSockets end to end: the real server, a real WebSocket client (Node's), tenant code with
// Workers' WebSocketPair. Messages both ways, closes from either side, the limits, and what
// happens to requests that are not upgrades or answers that are not sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { createGateway, Engine, islet, isletWebSocketServer, serveGateway } from '../index.ts';
import { FixedTtlPolicy } from '../warm/index.ts';
import type { ServedGateway } from './index.ts';
import net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { request } from './test-http.ts';

const ECHO = `export default {
  async fetch(request, env, ctx) {
    const path = new URL(request.url).pathname;
    if (request.headers.get('upgrade') !== 'websocket') {
      if (path === '/sneaky') {
        const [client] = Object.values(new WebSocketPair());
        return new Response(null, { status: 101, webSocket: client });
      }
      return new Response('not an upgrade', { status: 426 });
    }
    if (path === '/refuse') return new Response('go away', { status: 403 });
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    let count = 0;
    server.addEventListener('message', (event) => {
      count++;
      if (event.data === 'spin') for (;;) {}
      if (event.data === 'work') {
        // ~10 ms of CPU: a fifth of the limit, each message.
        const end = Date.now() + 10;
        while (Date.now() < end) {}
        return server.send('worked');
      }
      if (event.data === 'bye') return server.close(4000, 'asked to');
      if (event.data === 'count') return server.send(String(count));
      if (typeof event.data === 'string') return server.send('echo:' + event.data);
      server.send(new Uint8Array(event.data).reverse());
    });
    server.addEventListener('close', (event) => console.log('closed ' + event.code + ' ' + event.reason + ' ' + event.wasClean));
    server.send('hello');
    return new Response(null, { status: 101, webSocket: client, headers: { 'x-tenant': 'yes', 'sec-websocket-protocol': 'chat' } });
  },
};`;

let engine: Engine;
let served: ServedGateway;
beforeAll(async () => {
  // A spinning message is killed each time here: quarantine has tests of its own.
  engine = new Engine({ sched: { quarantine: false } });
  await engine.deploy('echo', { code: ECHO, limits: { cpuMs: 50 } });
  served = await serveGateway(createGateway(engine), { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await served.close(0);
  await engine.close();
});

/** Opens a socket to `path` of the echo function; its messages are collected as they come. */
function connect(path = '/', protocols: string[] = [], url = served.url) {
  // ws lets a client name the Host: the gateway picks the function by its first label.
  const ws = new WebSocket(`${url.replace('http', 'ws')}${path}`, protocols, { headers: { host: 'echo.localhost' } });
  const messages: unknown[] = [];
  const waiting: (() => void)[] = [];
  ws.on('message', (data, isBinary) => {
    messages.push(isBinary ? new Uint8Array(data as Buffer) : String(data));
    waiting.splice(0).forEach((wake) => wake());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  let headers: Record<string, string | string[] | undefined> = {};
  ws.on('upgrade', (res) => (headers = res.headers));
  const opened = new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('unexpected-response', (_req, res) => reject(new Error(`refused: ${res.statusCode}`)));
    ws.on('error', reject);
  });
  const next = async (): Promise<unknown> => {
    while (messages.length === 0) await new Promise<void>((wake) => waiting.push(wake));
    return messages.shift();
  };
  return { ws, opened, closed, next, headers: () => headers };
}

describe('WebSockets', () => {
  it('hands messages that came before accept() to the listeners added right after it, as Workers do', async () => {
    // The handler accepts its end only later; the client's first message waits in the isolate.
    await engine.deploy('late', {
      code: `export default { fetch(request, env, ctx) {
        const [client, server] = Object.values(new WebSocketPair());
        ctx.waitUntil(scheduler.wait(200).then(() => {
          server.accept();
          server.addEventListener('message', (event) => server.send('late:' + event.data));
        }));
        return new Response(null, { status: 101, webSocket: client });
      } }`,
    });
    const ws = new WebSocket(`${served.url.replace('http', 'ws')}/`, { headers: { host: 'late.localhost' } });
    const reply = new Promise<string>((resolve, reject) => {
      ws.on('message', (data) => resolve(String(data)));
      ws.on('error', reject);
    });
    ws.on('open', () => ws.send('first'));
    expect(await reply).toBe('late:first');
    ws.close();
  });

  it('lets a fetch started as the socket was accepted finish after the 101, and answer down the socket', async () => {
    // The upgrade's request is over once the 101 is out; the fetch is the socket's work, not a
    // leftover of that request (outstanding subrequests are aborted only with no socket open).
    const upstream = (await import('node:http')).createServer((req, res) => setTimeout(() => res.end('up:' + req.url), 200));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as net.AddressInfo).port;
    try {
      await engine.deploy('ws-fetch', {
        egress: { allowPrivate: true },
        code: `export default { fetch() {
          const [client, server] = Object.values(new WebSocketPair());
          server.accept();
          fetch('http://127.0.0.1:${port}/onopen').then((r) => r.text()).then((t) => server.send('fetched ' + t), (e) => server.send('failed ' + e.message));
          return new Response(null, { status: 101, webSocket: client });
        } }`,
      });
      const ws = new WebSocket(`${served.url.replace('http', 'ws')}/`, [], { headers: { host: 'ws-fetch.localhost' } });
      const first = new Promise<string>((resolve, reject) => {
        ws.on('message', (data) => resolve(String(data)));
        ws.on('error', reject);
      });
      expect(await first).toBe('fetched up:/onopen');
      ws.close();
    } finally {
      upstream.closeAllConnections();
      upstream.close();
    }
  });

  it('lets go of what a request left outstanding once the last socket closes and no request is left', async () => {
    // Spared while the socket was open (it might have been the socket's work), the call was then
    // never aborted: the callee ran to its own timer.
    await engine.deploy('callee', { code: `let log = [];
      export default { fetch(request) {
        if (new URL(request.url).pathname === '/log') return Response.json(log);
        return new Promise((resolve) => {
          request.signal.addEventListener('abort', () => { log.push('aborted'); resolve(new Response('aborted')); });
          setTimeout(() => { log.push('ran out'); resolve(new Response('late')); }, 5000);
        });
      } }`, limits: { wallMs: 10_000 } });
    await engine.deploy('holder', { services: { C: 'callee' }, code: `export default { fetch(request, env) {
      if (request.headers.get('upgrade') === 'websocket') {
        const [client, server] = Object.values(new WebSocketPair());
        server.accept();
        return new Response(null, { status: 101, webSocket: client });
      }
      env.C.fetch('https://c/hang').catch(() => {});
      return new Response('left a call behind');
    } }`, limits: { maxReplicas: 1 } });
    const ws = new WebSocket(`${served.url.replace('http', 'ws')}/`, [], { headers: { host: 'holder.localhost' } });
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    expect(await (await engine.fetch('holder', new Request('http://holder.test/'))).text()).toBe('left a call behind');
    await new Promise((r) => setTimeout(r, 200));
    const log = async () => (await engine.fetch('callee', new Request('http://callee.test/log'))).json();
    expect(await log()).toEqual([]);
    ws.close();
    await expect.poll(log, { timeout: 3_000 }).toEqual(['aborted']);
  });

  it('carries text and binary messages both ways, with the tenant\'s headers and subprotocol on the 101', async () => {
    const c = connect('/', ['chat', 'other']);
    await c.opened;
    expect(c.ws.protocol).toBe('chat');
    expect(c.headers()['x-tenant']).toBe('yes');
    expect(await c.next()).toBe('hello');
    c.ws.send('ping');
    expect(await c.next()).toBe('echo:ping');
    c.ws.send(new Uint8Array([1, 2, 3]));
    expect([...((await c.next()) as Uint8Array)]).toEqual([3, 2, 1]);
    c.ws.send('count');
    expect(await c.next()).toBe('3');
    c.ws.send('bye');
    const closed = await c.closed;
    expect([closed.code, closed.reason]).toEqual([4000, 'asked to']);
  });

  it('tells the tenant when the client closes', async () => {
    const lines: string[] = [];
    const stop = engine.logs.follow('echo', (record) => lines.push(record.msg));
    const c = connect();
    await c.opened;
    await c.next();
    c.ws.close(3001, 'done here');
    await c.closed;
    await expect.poll(() => lines).toContain('closed 3001 done here true');
    stop();
  });

  it('holds each message to the CPU limit: a spinning handler closes the socket (1011), and the next upgrade works', async () => {
    const c = connect();
    await c.opened;
    await c.next();
    c.ws.send('spin');
    expect((await c.closed).code).toBe(1011);
    const again = connect();
    await again.opened;
    expect(await again.next()).toBe('hello');
    again.ws.close();
  });

  it('sends a refusal as it is, and refuses a socket given to a request that did not ask for one', async () => {
    const refused = connect('/refuse');
    await expect(refused.opened).rejects.toThrow('refused: 403');
    // Body and headers included (before, @hono/node-server sent the status with Content-Length: 0).
    const answer = await new Promise<{ status?: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
      const ws = new WebSocket(`${served.url.replace('http', 'ws')}/refuse`, { headers: { host: 'echo.localhost' } });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode, body, headers: res.headers }));
      });
      ws.on('error', () => {});
      ws.on('open', () => reject(new Error('opened')));
    });
    expect(answer).toMatchObject({ status: 403, body: 'go away', headers: { 'content-type': 'text/plain;charset=UTF-8', 'content-length': '7', connection: 'close' } });
    const plain = await request(served.url, { host: 'echo.localhost', path: '/sneaky' });
    expect([plain.status, plain.headers['islet-error']]).toEqual([500, 'exception']);
    // Engine.fetch has no socket to complete a handshake on.
    const direct = await engine.fetch('echo', new Request('http://echo.test/', { headers: { upgrade: 'websocket' } }));
    expect(direct.status).toBe(500);
  });

  it('serves a request asking for another upgrade (h2c, as curl --http2 sends) as a plain one, and lets its socket go', async () => {
    const ask = (upgrade: string) => new Promise<{ head: string; closed: boolean }>((resolve, reject) => {
      const socket = net.connect(served.port, '127.0.0.1', () => socket.write(
        `GET / HTTP/1.1\r\nHost: echo.localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: ${upgrade}\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`,
      ));
      let got = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        got += chunk;
        // The whole answer is in: the server keeps the connection open, so end it from here.
        if (got.endsWith('not an upgrade')) socket.end();
      });
      socket.on('close', () => resolve({ head: got.split('\r\n')[0]!, closed: got.endsWith('not an upgrade') }));
      socket.on('error', reject);
      setTimeout(() => { socket.destroy(); resolve({ head: got, closed: false }); }, 3_000);
    });
    // Before, @hono/node-server's upgrade listener ignored them: no answer, the socket held for ever.
    expect(await ask('h2c')).toEqual({ head: 'HTTP/1.1 426 Upgrade Required', closed: true });
    expect(await ask('foo/1, websocket')).toEqual({ head: 'HTTP/1.1 426 Upgrade Required', closed: true });
    // The server holds no connection for them once their clients left.
    const connections = await new Promise<number>((resolve) => served.server.getConnections((_err, n) => resolve(n)));
    expect(connections).toBe(0);
  });

  it('keeps its isolate from being unloaded while a socket is open, and lets it go after', async () => {
    const own = new Engine({ keepAlive: new FixedTtlPolicy(50), keepAliveSweepMs: 20 });
    await own.deploy('echo', { code: ECHO });
    const server = await serveGateway(createGateway(own), { port: 0, host: '127.0.0.1' });
    try {
      const c = connect('/', [], server.url);
      await c.opened;
      await c.next();
      c.ws.send('count');
      expect(await c.next()).toBe('1');
      await new Promise((r) => setTimeout(r, 300));
      // The same isolate: its count of messages went on.
      c.ws.send('count');
      expect(await c.next()).toBe('2');
      expect(own.liveCount).toBe(1);
      expect(await own.metrics.text()).toContain('islet_websockets_open{function="echo"} 1');
      c.ws.close();
      await c.closed;
      await expect.poll(() => own.liveCount, { timeout: 2_000 }).toBe(0);
    } finally {
      await server.close(0);
      await own.close();
    }
  });

  it('has Workers\' shapes and refusals inside the isolate', async () => {
    await engine.deploy('shapes', {
      code: `export default { fetch() {
        const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.name + ': ' + e.message; } };
        const pair = new WebSocketPair();
        const [client, server] = Object.values(pair);
        return Response.json({
          keys: Object.keys(pair),
          tag: Object.prototype.toString.call(server),
          state: [server.readyState, WebSocket.OPEN, server.CLOSED],
          outbound: attempt(() => new WebSocket('ftp://example.com')).split(':')[0],
          sendFirst: attempt(() => server.send('x')),
          badCode: attempt(() => { server.accept(); server.close(1001); }),
          noSocket: attempt(() => new Response(null, { status: 101 })),
          notUpgrade: attempt(() => new Response(null, { status: 200, webSocket: client })),
          acceptHanded: attempt(() => { new Response(null, { status: 101, webSocket: client }); }),
          big: attempt(() => server.send(new Uint8Array(1024 * 1024 + 1))),
        });
      } }`,
    });
    expect(await (await engine.fetch('shapes', new Request('http://shapes.test/'))).json()).toEqual({
      keys: ['0', '1'],
      tag: '[object WebSocket]',
      state: [1, 1, 3],
      outbound: 'SyntaxError',
      sendFirst: 'TypeError: You must call accept() on this WebSocket before sending messages.',
      badCode: 'InvalidAccessError: The close code must be 1000 or from 3000 to 4999, got 1001',
      noSocket: expect.stringMatching(/^RangeError: .*status 101 needs a webSocket/),
      notUpgrade: expect.stringMatching(/^RangeError: .*must have status 101/),
      acceptHanded: 'ok',
      big: 'RangeError: a WebSocket message is at most 1048576 bytes, got 1048577',
    });
  });

  it('asks open sockets to go (1001) when the server closes, rather than waiting on them', async () => {
    const own = new Engine();
    await own.deploy('echo', { code: ECHO });
    const server = await serveGateway(createGateway(own), { port: 0, host: '127.0.0.1' });
    const c = connect('/', [], server.url);
    await c.opened;
    await c.next();
    const t0 = performance.now();
    await server.close(30_000);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect((await c.closed).code).toBe(1001);
    await own.close();
  });

  it('gives each message a CPU limit of its own: a burst of busy messages all run, a spinner dies however often the client sends', async () => {
    const c = connect();
    await c.opened;
    await c.next();
    for (let i = 0; i < 8; i++) c.ws.send('work');
    for (let i = 0; i < 8; i++) expect(await c.next()).toBe('worked');
    // A client sending every 2 ms must not keep a spinning handler alive.
    c.ws.send('spin');
    const feeding = setInterval(() => c.ws.readyState === WebSocket.OPEN && c.ws.send('tick'), 2);
    const t0 = performance.now();
    try {
      expect((await c.closed).code).toBe(1011);
      expect(performance.now() - t0).toBeLessThan(2_000);
    } finally {
      clearInterval(feeding);
    }
  });

  it("charges the host's work on each send to the tenant: sends queued before the 101 cannot spin the host past the limit", async () => {
    // Before, each synchronous send's host work went uncharged (the isolate's clock stands still
    // while it waits): from a 50 ms limit the flush of the queue kept the event loop busy 2.3 s
    // and delivered ~29,000 of these.
    await engine.deploy('flooder', {
      code: `export default { fetch() {
        const [client, server] = Object.values(new WebSocketPair());
        server.accept();
        for (let i = 0; i < 100000; i++) server.send('');
        return new Response(null, { status: 101, webSocket: client });
      } }`,
      limits: { cpuMs: 50 },
    });
    const ws = new WebSocket(`${served.url.replace('http', 'ws')}/`, { headers: { host: 'flooder.localhost' } });
    let received = 0;
    ws.on('message', () => received++);
    ws.on('error', () => {});
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(1011);
    expect(received).toBeLessThan(10_000);
  });

  it('holds the host to its own checks: a tenant that patches the runtime\'s cannot send past 1 MB', async () => {
    await engine.deploy('patcher', {
      code: `export default { fetch() {
        const [client, server] = Object.values(new WebSocketPair());
        server.accept();
        server.addEventListener('message', () => {
          Object.defineProperty(ArrayBuffer.prototype, 'byteLength', { get: () => 1 });
          try { server.send(new Uint8Array(2 * 1024 * 1024)); server.send('sent'); } catch (e) { server.send(e.message); }
        });
        return new Response(null, { status: 101, webSocket: client });
      } }`,
    });
    const ws = new WebSocket(`${served.url.replace('http', 'ws')}/`, { headers: { host: 'patcher.localhost' } });
    const answer = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('go'));
      ws.on('message', (data) => resolve(String(data)));
      ws.on('error', reject);
    });
    expect(answer).toBe('a WebSocket message is at most 1048576 bytes, got 2097152');
    ws.close();
  });

  it('reads what it sends with built-ins the tenant cannot replace: a patched slice or encode sends nothing big', async () => {
    await engine.deploy('slicer', {
      code: `export default { fetch() {
        const [client, server] = Object.values(new WebSocketPair());
        server.accept();
        server.addEventListener('message', () => {
          const big = 'x'.repeat(8 * 1024 * 1024);
          const fake = Object.assign(new ArrayBuffer(0), { pad: Array(16).fill(big) });
          ArrayBuffer.prototype.slice = () => fake;
          Uint8Array.prototype.slice = () => new Uint8Array(fake);
          TextEncoder.prototype.encode = () => new Uint8Array(0);
          const outcomes = [];
          for (const message of [new ArrayBuffer(4), new Uint8Array(4), new DataView(new ArrayBuffer(4)), big]) {
            try { server.send(message); outcomes.push('sent'); } catch (e) { outcomes.push(e.name); }
          }
          try { server.close(1000, big); } catch (e) { outcomes.push(e.name); }
          server.send(outcomes.join(','));
        });
        return new Response(null, { status: 101, webSocket: client });
      } }`,
    });
    const ws = new WebSocket(`${served.url.replace('http', 'ws')}/`, { headers: { host: 'slicer.localhost' } });
    const got: (string | number)[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => ws.send('go'));
      ws.on('message', (data, binary) => {
        got.push(binary ? (data as Buffer).length : String(data));
        if (!binary) resolve();
      });
      ws.on('error', reject);
    });
    // Before, each binary message went out as the tenant's slice made it: a 0-byte buffer whose
    // named property, 16 references to an 8 MB string, was copied to the host with it.
    expect(got).toEqual([4, 4, 4, 'sent,sent,sent,RangeError,SyntaxError']);
    ws.close();
  });

  it('closes the tenant\'s socket when the client left (reset) while the tenant was still answering the upgrade', async () => {
    const own = new Engine({ keepAlive: new FixedTtlPolicy(50), keepAliveSweepMs: 20 });
    await own.deploy('slow', {
      code: `export default { async fetch() {
        await new Promise((r) => setTimeout(r, 300));
        const [client, server] = Object.values(new WebSocketPair());
        server.accept();
        server.addEventListener('close', (e) => console.log('closed ' + e.code));
        return new Response(null, { status: 101, webSocket: client });
      } }`,
    });
    const server = await serveGateway(createGateway(own), { port: 0, host: '127.0.0.1' });
    try {
      const raw = net.connect(server.port, '127.0.0.1');
      raw.on('error', () => {});
      raw.write('GET / HTTP/1.1\r\nHost: slow.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
      await new Promise((r) => setTimeout(r, 50));
      raw.resetAndDestroy();
      await new Promise((r) => setTimeout(r, 500));
      await expect.poll(() => own.metrics.text(), { timeout: 2_000 }).toContain('islet_websockets_open{function="slow"} 0');
      await expect.poll(() => own.liveCount, { timeout: 2_000 }).toBe(0);
    } finally {
      await server.close(0);
      await own.close();
    }
  });
});

describe('WebSockets in your own Hono app', () => {
  /** The echo function mounted with islet() in an app of its own, on the WebSocket server given. */
  async function ownApp(webSockets: WebSocketServer): Promise<{ url: string; close: () => Promise<void> }> {
    const app = new Hono();
    app.use('*', islet(engine, { function: 'echo' }));
    const server = createAdaptorServer({ fetch: app.fetch, websocket: { server: webSockets } });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => {
        for (const client of webSockets.clients) client.terminate();
        server.close(() => resolve());
      }),
    };
  }

  it("keeps Workers' 1 MB bound and the tenant's subprotocol on isletWebSocketServer() and on a plain ws server alike", async () => {
    for (const [kind, webSockets] of [['islet', isletWebSocketServer()], ['plain', new WebSocketServer({ noServer: true })]] as const) {
      const app = await ownApp(webSockets);
      try {
        const small = connect('/', ['chat'], app.url);
        await small.opened;
        expect(small.ws.protocol, kind).toBe('chat');
        expect(await small.next()).toBe('hello');
        small.ws.send('ping');
        expect(await small.next()).toBe('echo:ping');
        // Past 1 MB: closed before the tenant sees it (a plain ws server takes up to 100 MB).
        small.ws.send('x'.repeat(2 * 1024 * 1024));
        expect((await small.closed).code, kind).toBe(1009);
        // The tenant picked "chat"; a plain ws server settles on the first one offered.
        const mismatched = connect('/', ['other', 'chat'], app.url);
        await mismatched.opened;
        if (kind === 'islet') {
          expect(mismatched.ws.protocol).toBe('chat');
          mismatched.ws.close();
        } else {
          expect(mismatched.ws.protocol).toBe('other');
          expect((await mismatched.closed).code).toBe(1002);
        }
      } finally {
        await app.close();
      }
    }
  });
});
