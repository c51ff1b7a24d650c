// The engine's side of connection handoff. For upgraded connections: an upgrade being answered
// is not given back when the engine is told to release its connections (the next engine would
// wait for a request the client already sent), and a WebSocket that opens then is asked to go.
// For SIGTERM: the drain closes each connection after its answer and ends when none is left.
import net from 'node:net';
import type { Server } from 'node:http';
import { afterEach, expect, it } from 'vitest';
import { createGateway, Engine, serveGateway } from '../index.ts';
import { AdoptedConnections } from './adopted-connections.ts';
import type { ConnectionReport } from './protocol.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

it('keeps an upgrade being answered through a release, and closes its WebSocket (1001) once open', async () => {
  const engine = new Engine();
  await engine.deploy('slow', {
    code: `export default { async fetch() {
      await new Promise((r) => setTimeout(r, 400));
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      return new Response(null, { status: 101, webSocket: client });
    } }`,
  });
  const served = await serveGateway(createGateway(engine), { port: 0, host: '127.0.0.1' });
  const reports: ConnectionReport[] = [];
  const adopted = new AdoptedConnections(served.server as Server, (r) => reports.push(structuredClone(r)), served.webSockets);
  // A connection accepted elsewhere (the supervisor's socket) and handed to this engine.
  const front = net.createServer((socket) => adopted.adopt(1, socket));
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  cleanup.push(async () => {
    front.close();
    await served.close(0);
    await engine.close();
  });
  const client = net.connect((front.address() as net.AddressInfo).port, '127.0.0.1');
  let received = Buffer.alloc(0);
  client.on('data', (chunk) => (received = Buffer.concat([received, chunk])));
  const closed = new Promise<void>((r) => client.on('close', () => r()));
  client.write('GET / HTTP/1.1\r\nHost: slow.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  await new Promise((r) => setTimeout(r, 100));
  adopted.release();
  await new Promise((r) => setTimeout(r, 100));
  expect(reports.flatMap((r) => r.released ?? [])).toEqual([]);
  // The 101 arrives, then a close frame with 1001 (0x88, length, 0x03E9).
  await expect.poll(() => received.toString('latin1'), { timeout: 2_000 }).toMatch(/^HTTP\/1\.1 101 /);
  await expect.poll(() => received.includes(Buffer.from([0x03, 0xe9])), { timeout: 2_000 }).toBe(true);
  client.end();
  await closed;
});

it('drains by closing each connection after its answer: one under way says Connection: close, a request still coming is served', async () => {
  const engine = new Engine();
  await engine.deploy('slow', { code: 'export default { fetch: () => new Promise((r) => setTimeout(() => r(new Response("slow")), 300)) }' });
  // Its head goes out at once, keep-alive; its body ends 300 ms later.
  await engine.deploy('stream', {
    code: `export default { fetch() {
      const { readable, writable } = new TransformStream();
      const writer = writable.getWriter();
      writer.write(new TextEncoder().encode("a"));
      setTimeout(() => { writer.write(new TextEncoder().encode("b")); writer.close(); }, 300);
      return new Response(readable);
    } }`,
  });
  const served = await serveGateway(createGateway(engine), { port: 0, host: '127.0.0.1' });
  const reports: ConnectionReport[] = [];
  const adopted = new AdoptedConnections(served.server as Server, (r) => reports.push(structuredClone(r)), served.webSockets);
  let nextId = 1;
  const front = net.createServer((socket) => adopted.adopt(nextId++, socket));
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  cleanup.push(async () => {
    front.close();
    await served.close(0);
    await engine.close();
  });
  const open = (text: string) => {
    const client = net.connect((front.address() as net.AddressInfo).port, '127.0.0.1');
    let received = '';
    client.on('data', (chunk) => (received += chunk.toString('latin1')));
    const closed = new Promise<string>((r) => client.on('close', () => r(received)));
    client.write(text);
    return { client, seen: () => received, closed };
  };
  const slow = open('GET / HTTP/1.1\r\nHost: slow.localhost\r\n\r\n');
  const stream = open('GET / HTTP/1.1\r\nHost: stream.localhost\r\n\r\n');
  // Half a request: its connection is not idle, and the rest comes after the drain began.
  const late = open('GET / HTTP/1.1\r\nHost: slow.localhost\r\n');
  await expect.poll(stream.seen, { timeout: 2_000 }).toMatch(/^HTTP\/1\.1 200 /);
  expect(stream.seen()).not.toMatch(/\r\nconnection: close\r\n/i);

  const started = performance.now();
  const drained = adopted.drain(5_000);
  late.client.write('\r\n');
  const [slowText, streamText, lateText] = await Promise.all([slow.closed, stream.closed, late.closed]);
  await drained;
  expect(performance.now() - started).toBeLessThan(2_000);
  expect(slowText).toMatch(/^HTTP\/1\.1 200 [^]*\r\nconnection: close\r\n[^]*slow$/i);
  expect(lateText).toMatch(/^HTTP\/1\.1 200 [^]*\r\nconnection: close\r\n[^]*slow$/i);
  // Chunked: the last chunk, then the server's close rather than a wait for a next request.
  expect(streamText).toMatch(/\r\n0\r\n\r\n$/);
  expect(reports.flatMap((r) => r.closed).sort()).toEqual([1, 2, 3]);
});
