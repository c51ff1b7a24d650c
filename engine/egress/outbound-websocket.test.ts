// Outbound WebSockets end to end: tenant code opens them (a fetch() with Upgrade, `new WebSocket`)
// to a real `ws` server on this host, through the engine, on the isolate and process tiers.
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createGateway, Engine, serveGateway } from '../index.ts';
import { FixedTtlPolicy } from '../warm/index.ts';

/** Completes a WebSocket handshake by hand (RFC 6455 §4.2.2), for servers that then misbehave. */
function upgrade(socket: Socket, head: string): void {
  const key = /sec-websocket-key:\s*(.*)\r\n/i.exec(head)?.[1]?.trim() ?? '';
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
}

/** A raw TCP server that answers each connection with `answer` (a handshake of its own making), counting them. */
async function rawServer(answer: (socket: Socket, head: string) => void): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.on('error', () => {});
    let head = '';
    socket.on('data', function read(chunk) {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', read);
      answer(socket, head);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, connections: () => connections };
}

let server: WebSocketServer;
let url: string;
/** The close each server-side socket saw, by the x-who header its client sent. */
const closes = new Map<string, [number, string]>();

beforeAll(async () => {
  server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    handleProtocols: (offered) => (offered.has('chat') ? 'chat' : false),
    verifyClient: ({ req }, done) => (req.url === '/refuse' ? done(false, 401, 'no entry') : done(true)),
  });
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  server.on('connection', (ws: WebSocket, req) => {
    const who = String(req.headers['x-who'] ?? req.url);
    // The server speaks first, possibly in the same segment as its 101.
    ws.send(`hello ${who}`);
    ws.on('message', (data, binary) => {
      if (!binary && data.toString() === 'close me') return ws.close(4001, 'as asked');
      ws.send(binary ? Buffer.from(data as Buffer).reverse() : `echo ${data.toString()}`);
    });
    ws.on('close', (code, reason) => closes.set(who, [code, reason.toString()]));
  });
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const TENANT = (base: string) => `export default { async fetch(request) {
  const path = new URL(request.url).pathname;
  if (path === '/fetch') {
    const res = await fetch('${base}/', { headers: { upgrade: 'websocket', 'x-who': 'fetch', 'sec-websocket-protocol': 'chat' } });
    const ws = res.webSocket;
    ws.accept();
    const got = [];
    const three = new Promise((resolve) => ws.addEventListener('message', (e) => { got.push(typeof e.data === 'string' ? e.data : [...new Uint8Array(e.data)]); if (got.length === 3) resolve(); }));
    ws.send('one');
    ws.send(new Uint8Array([1, 2, 3]));
    await three;
    ws.close(1000, 'done here');
    return Response.json({ status: res.status, protocol: res.headers.get('sec-websocket-protocol'), got });
  }
  if (path === '/new') {
    const ws = new WebSocket('${base.replace('http', 'ws')}/new', 'chat');
    const seen = [ws.readyState];
    const got = [];
    const closed = await new Promise((resolve, reject) => {
      ws.onerror = () => reject(new Error('error'));
      ws.onopen = () => { seen.push('open', ws.readyState, ws.protocol, ws.url); ws.send('two'); };
      ws.onmessage = (e) => { got.push(e.data); if (got.length === 2) ws.send('close me'); };
      ws.onclose = (e) => resolve([e.code, e.reason, e.wasClean]);
    });
    return Response.json({ seen, got, closed });
  }
  if (path === '/refused') {
    const res = await fetch('${base}/refuse', { headers: { upgrade: 'websocket' } });
    const ws = new WebSocket('${base.replace('http', 'ws')}/refuse');
    const events = await new Promise((resolve) => { const seen = []; ws.onerror = (e) => seen.push(e.type); ws.onclose = (e) => resolve([...seen, e.type, e.code, e.wasClean]); });
    return Response.json({ status: res.status, webSocket: res.webSocket, body: await res.text(), events });
  }
  if (path === '/proxy') {
    const res = await fetch('${base}/', { headers: { upgrade: 'websocket' } });
    res.webSocket.accept();
    return res;
  }
  return new Response('?', { status: 404 });
} }`;

for (const tier of ['isolate', 'process'] as const) {
  describe(`outbound WebSockets (${tier} tier)`, () => {
    let engine: Engine;
    beforeAll(async () => {
      engine = new Engine();
      await engine.deploy('out', { code: TENANT(url), tier, egress: { allowPrivate: true } });
    });
    afterAll(() => engine.close());

    const call = async (path: string) => {
      const res = await engine.fetch('out', new Request(`http://out.test${path}`));
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${res.status} ${text}`);
      return JSON.parse(text);
    };

    it('a fetch() with Upgrade answers 101 with a socket to accept, both ways, text and bytes', async () => {
      expect(await call('/fetch')).toEqual({ status: 101, protocol: 'chat', got: ['hello fetch', 'echo one', [3, 2, 1]] });
      await expect.poll(() => closes.get('fetch')).toEqual([1000, 'done here']);
    });

    it('new WebSocket(url) connects, opens, and hears the server close', async () => {
      const { seen, got, closed } = await call('/new');
      expect(seen).toEqual([0, 'open', 1, 'chat', `${url.replace('http', 'ws')}/new`]);
      expect(got).toEqual(['hello /new', 'echo two']);
      expect(closed).toEqual([4001, 'as asked', true]);
    });

    it('a server that does not upgrade answers as any server does; new WebSocket fails', async () => {
      expect(await call('/refused')).toEqual({ status: 401, webSocket: null, body: 'no entry', events: ['error', 'close', 1006, false] });
    });

    it('a socket from fetch() answers an upgrade: the host joins the client to it (proxying), losing nothing', async () => {
      // A keep-alive of 300 ms: a sandbox holding only a proxied socket must not count as idle.
      const proxy = new Engine({ keepAlive: new FixedTtlPolicy(300), keepAliveSweepMs: 100 });
      await proxy.deploy('proxy', {
        tier,
        egress: { allowPrivate: true },
        code: `export default { fetch(request) {
          if (request.headers.get('upgrade') !== 'websocket') return new Response('expected a WebSocket', { status: 426 });
          return fetch('${url}' + new URL(request.url).pathname, request);
        } }`,
      });
      const served = await serveGateway(createGateway(proxy), { port: 0, host: '127.0.0.1' });
      try {
        const client = new WebSocket(`${served.url.replace('http', 'ws')}/through`, ['chat'], { headers: { host: 'proxy.localhost', 'x-who': `proxied-${tier}` } });
        const got: unknown[] = [];
        const closed = new Promise<number>((resolve) => client.on('close', resolve));
        await new Promise<void>((resolve, reject) => {
          client.on('message', (data, binary) => {
            got.push(binary ? [...(data as Buffer)] : String(data));
            if (got.length === 3) resolve();
          });
          client.on('open', () => {
            client.send('one');
            client.send(new Uint8Array([1, 2, 3]));
          });
          client.on('error', reject);
        });
        // The upstream's greeting came while the function held the socket unread: it is not lost.
        expect(got).toEqual([`hello proxied-${tier}`, 'echo one', [3, 2, 1]]);
        expect(client.protocol).toBe('chat');
        // Past the keep-alive, the sandbox (and with it the joined socket) is still there.
        await new Promise((resolve) => setTimeout(resolve, 800));
        const echoed = new Promise((resolve) => client.once('message', (data) => resolve(String(data))));
        client.send('still');
        expect(await echoed).toBe('echo still');
        client.close(4002, 'client done');
        expect(await closed).toBe(4002);
        await expect.poll(() => closes.get(`proxied-${tier}`)).toEqual([4002, 'client done']);
      } finally {
        await served.close(0);
        await proxy.close();
      }
    });

    it('a socket the function accepted cannot also answer an upgrade', async () => {
      const err = await engine.invoke('out', { method: 'GET', url: 'http://out.test/proxy', headers: [], body: null }).catch((e: Error) => e);
      expect((err as Error).message).toMatch(/must be one not accepted/);
    });
  });
}

describe('outbound WebSockets under the egress policy', () => {
  it('are refused to non-public addresses by default, as subrequests are', async () => {
    const engine = new Engine();
    try {
      await engine.deploy('closed', {
        code: `export default { async fetch() {
          const refused = await fetch('${url}/', { headers: { upgrade: 'websocket' } }).then(() => 'ok', (e) => e.name + ': ' + e.message);
          const ws = new WebSocket('${url.replace('http', 'ws')}/');
          const events = await new Promise((resolve) => { const seen = []; ws.onerror = (e) => seen.push(e.type); ws.onclose = (e) => resolve([...seen, e.code]); });
          return Response.json({ refused, events });
        } }`,
      });
      const res = await engine.fetch('closed', new Request('http://closed.test/'));
      const body = await res.json() as { refused: string; events: unknown[] };
      expect(body.refused).toMatch(/^TypeError: .*not a public address/);
      expect(body.events).toEqual(['error', 1006]);
    } finally {
      await engine.close();
    }
  });

  it('time out as a whole, however slowly the server answers', async () => {
    // A byte every 100 ms of a 101 that never ends: no idle timeout trips on it.
    const slow = await rawServer((socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nX-Slow: ');
      const drip = setInterval(() => (socket.destroyed ? clearInterval(drip) : socket.write('a')), 100);
    });
    const engine = new Engine();
    try {
      await engine.deploy('slow', {
        egress: { allowPrivate: true, timeoutMs: 500 },
        code: `export default { async fetch() {
          const started = Date.now();
          const why = await fetch('http://127.0.0.1:${slow.port}/', { headers: { upgrade: 'websocket' } }).then(() => 'ok', (e) => e.message);
          return Response.json({ why, ms: Date.now() - started });
        } }`,
      });
      const { why, ms } = await (await engine.fetch('slow', new Request('http://slow.test/'))).json() as { why: string; ms: number };
      expect(why).toMatch(/timed out after 500 ms/);
      expect(ms).toBeLessThan(3_000);
    } finally {
      slow.server.close();
      await engine.close();
    }
  });

  it('bound what the tenant sent that the servers have not taken, for all its sockets together', async () => {
    // Servers that upgrade, then read nothing: what the tenant sends piles up on the host.
    const deaf = await rawServer((socket, head) => {
      upgrade(socket, head);
      socket.pause();
    });
    const engine = new Engine();
    try {
      await engine.deploy('deaf', {
        egress: { allowPrivate: true },
        limits: { cpuMs: 5_000, wallMs: 20_000 },
        // 16 sockets, 15 MB each: under the 16 MB one socket may hold, far over 32 MB for all.
        code: `export default { async fetch() {
          const sockets = await Promise.all(Array.from({ length: 16 }, () => new Promise((resolve, reject) => {
            const ws = new WebSocket('ws://127.0.0.1:${deaf.port}/');
            ws.onopen = () => resolve(ws);
            ws.onerror = reject;
          })));
          const closes = [];
          const started = Date.now();
          for (const ws of sockets) ws.addEventListener('close', (e) => closes.push(e.code + ' ' + e.reason));
          const message = 'a'.repeat(1024 * 1024 - 64);
          for (let i = 0; i < 15; i++) {
            for (const ws of sockets) if (ws.readyState === 1) ws.send(message);
            await scheduler.wait(1);
          }
          // The host closes the socket over the bound; a server that reads nothing never answers the
          // close, so the connection is cut after 2 s, and the close event comes then.
          while (closes.length === 0 && Date.now() - started < 6_000) await scheduler.wait(50);
          return Response.json(closes);
        } }`,
      });
      const closes = await (await engine.fetch('deaf', new Request('http://deaf.test/'))).json() as string[];
      expect(closes.length).toBeGreaterThan(0);
      expect(closes[0]).toBe("1008 the function's WebSockets hold too much their peers have not taken");
    } finally {
      deaf.server.close();
      await engine.close();
    }
  });

  it('dial nothing for a socket id in use or malformed, which a process\'s runtime can forge', async () => {
    // It never answers: the first handshake stays in flight, its id held, for as long as the test.
    const counted = await rawServer(() => {});
    const engine = new Engine();
    try {
      await engine.deploy('forger', {
        tier: 'process',
        needs: ['node-builtins'],
        egress: { allowPrivate: true },
        code: `import fs from 'node:fs';
        function forge(head) {
          const json = Buffer.from(JSON.stringify(head));
          const out = Buffer.alloc(8 + json.length);
          out.writeUInt32BE(4 + json.length, 0);
          out.writeUInt32BE(json.length, 4);
          json.copy(out, 8);
          for (let at = 0; at < out.length;) { try { at += fs.writeSync(Number(process.env.ISLET_CHANNEL_FD ?? 3), out, at); } catch (e) { if (e.code !== 'EAGAIN') throw e; } }
        }
        export default { async fetch() {
          // The first names a new id and is dialled; the same id again is in use while its
          // handshake is, and the rest are no ids at all.
          const url = 'http://127.0.0.1:${counted.port}/';
          let id = 900000;
          for (const socket of [7, 7, 7, 'x', -1, 0, 1e300, 2.5]) forge({ t: 'ws-connect', id: id++, url, headers: [], socket });
          return new Response('forged');
        } }`,
      });
      expect(await (await engine.fetch('forger', new Request('http://forger.test/'))).text()).toBe('forged');
      await expect.poll(() => counted.connections()).toBe(1);
      // Time for any other to have been dialled (none must be).
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(counted.connections()).toBe(1);
    } finally {
      counted.server.close();
      await engine.close();
    }
  });

  it('close when never accepted and their request is over, giving their place back', async () => {
    const engine = new Engine();
    try {
      await engine.deploy('drops', {
        egress: { allowPrivate: true },
        code: `export default { async fetch(request) {
          const res = await fetch('${url}/', { headers: { upgrade: 'websocket', 'x-who': new URL(request.url).pathname } });
          return new Response(String(res.status));
        } }`,
      });
      // One request at a time, each dropping its socket: 40 is past the bound of 32 unless each
      // closes once its request is over.
      for (let i = 0; i < 40; i++) {
        const res = await engine.fetch('drops', new Request(`http://drops.test/dropped${i}`));
        expect(await res.text()).toBe('101');
      }
      await expect.poll(() => closes.get('/dropped0')).toEqual([1001, 'it was never accepted, and the request that opened it is over']);
    } finally {
      await engine.close();
    }
  });

  it('close when they answer a request already over (its wall-clock limit passed)', async () => {
    // Upgrades after 600 ms, past the function's 300 ms.
    const late = await rawServer((socket, head) => {
      setTimeout(() => {
        upgrade(socket, head);
      }, 600);
    });
    const engine = new Engine({ sched: { quarantine: false } });
    try {
      await engine.deploy('late', {
        egress: { allowPrivate: true },
        limits: { wallMs: 300 },
        code: `export default { fetch(request) { return fetch('http://127.0.0.1:${late.port}/', request); } }`,
      });
      const served = await serveGateway(createGateway(engine), { port: 0, host: '127.0.0.1' });
      try {
        const client = new WebSocket(`${served.url.replace('http', 'ws')}/`, { headers: { host: 'late.localhost' } });
        const status = await new Promise<number>((resolve) => client.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
        expect(status).toBe(503);
        // The handshake completes after the answer went out; its socket is then closed by the host
        // (this server never answers a close: cut after the host's 2 s wait).
        const connections = () => new Promise<number>((resolve) => late.server.getConnections((_e, n) => resolve(n)));
        await expect.poll(() => late.connections()).toBe(1);
        await expect.poll(connections, { timeout: 5_000 }).toBe(0);
      } finally {
        await served.close(0);
      }
    } finally {
      late.server.close();
      await engine.close();
    }
  });

  it('give their place back when closed unread, or while connecting', async () => {
    const engine = new Engine();
    try {
      await engine.deploy('churn', {
        egress: { allowPrivate: true },
        // 80 sockets opened and closed: CPU (past 17 ms in a quiet run) is not what is tested.
        limits: { maxSubrequests: 200, cpuMs: 1_000 },
        // 40 rounds of 2, each closed without being read: past the bound of 32 unless each close frees its place.
        code: `export default { async fetch() {
          const closes = [];
          for (let i = 0; i < 40; i++) {
            const res = await fetch('${url}/', { headers: { upgrade: 'websocket', 'x-who': 'churn' + i } });
            const ws = new WebSocket('${url.replace('http', 'ws')}/churn-new' + i);
            ws.close(1000);
            const closed = new Promise((resolve) => ws.addEventListener('close', (e) => resolve(e.code)));
            res.webSocket.close(1000, 'unread');
            closes.push(await closed);
          }
          return Response.json(closes);
        } }`,
      });
      const res = await engine.fetch('churn', new Request('http://churn.test/'));
      expect(res.status).toBe(200);
      expect(new Set(await res.json() as number[])).toEqual(new Set([1000]));
    } finally {
      await engine.close();
    }
  });

  it('are bounded per sandbox, and close when the function goes', async () => {
    const engine = new Engine();
    try {
      await engine.deploy('many', {
        egress: { allowPrivate: true },
        limits: { maxSubrequests: 100 },
        code: `const open = [];
        export default { async fetch() {
          const results = await Promise.all(Array.from({ length: 33 }, (_, i) =>
            fetch('${url}/', { headers: { upgrade: 'websocket', 'x-who': 'many' + i } }).then((res) => { open.push(res.webSocket); res.webSocket.accept(); return 'ok'; }, (e) => e.message)));
          return Response.json(results);
        } }`,
      });
      const results = await (await engine.fetch('many', new Request('http://many.test/'))).json() as string[];
      expect(results.filter((r) => r === 'ok')).toHaveLength(32);
      expect(results.filter((r) => r !== 'ok')).toEqual(['fetch: a function may hold at most 32 outbound WebSockets at once, open or connecting']);
      await engine.undeploy('many');
      await expect.poll(() => [...closes.keys()].filter((k) => k.startsWith('many')).length).toBe(32);
      expect(closes.get('many0')).toEqual([1012, 'the function was restarted']);
    } finally {
      await engine.close();
    }
  });
});
