// Outbound WebSockets end to end: tenant code opens them (a fetch() with Upgrade, `new WebSocket`)
// to a real `ws` server on this host, through the engine, on the isolate and process tiers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { Engine } from '../index.ts';

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
  if (path === '/proxy') return fetch('${base}/', { headers: { upgrade: 'websocket' } });
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

    it('a socket the function opened cannot answer an upgrade', async () => {
      const err = await engine.invoke('out', { method: 'GET', url: 'http://out.test/proxy', headers: [], body: null }).catch((e: Error) => e);
      expect((err as Error).message).toMatch(/one the function opened \(fetch, new WebSocket\) cannot answer an upgrade here/);
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
