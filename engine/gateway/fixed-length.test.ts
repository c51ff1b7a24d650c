// Workers' FixedLengthStream and IdentityTransformStream over a real socket: a body of declared
// length goes out with Content-Length (HEAD too), and a body that breaks its length — through the
// API, or by a tenant tampering with the runtime's stream classes — cuts the connection before a
// byte too many reaches it.
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine.ts';
import { createGateway } from './app.ts';
import { serveGateway, type ServedGateway } from './server.ts';
import { bodyEnding, request } from './test-http.ts';

const entry = fileURLToPath(new URL('../../fixtures/fixed-length/index.js', import.meta.url));

let engine: Engine;
let served: ServedGateway;

beforeAll(async () => {
  engine = new Engine();
  await engine.deploy('fixed', { entry });
  served = await serveGateway(createGateway(engine), { port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await served.close(100);
  await engine.close();
});

/** Everything the server sends on one keep-alive connection for `head`, until it closes or 2 s pass. */
function rawExchange(head: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(served.port, '127.0.0.1', () => socket.write(head));
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, 2_000);
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => { text += s; });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.on('error', () => {});
  });
}

const get = (path: string, method = 'GET') => request(served.url, { path, method, host: 'fixed.localhost' });

describe('FixedLengthStream', () => {
  it('sends its body with the declared Content-Length instead of chunked, HEAD included', async () => {
    const res = await get('/fixed');
    expect(res.status).toBe(200);
    expect(res.text).toBe('hello world');
    expect(res.headers['content-length']).toBe('11');
    expect(res.headers['transfer-encoding']).toBeUndefined();
    const head = await get('/fixed', 'HEAD');
    expect(head.headers['content-length']).toBe('11');
    expect(head.text).toBe('');
    const big = await get('/bigint');
    expect([big.text, big.headers['content-length']]).toEqual(['abc', '3']);
  });

  it('cuts the connection when the tenant writes more or fewer bytes than it declared', async () => {
    for (const path of ['/over', '/short']) {
      expect(await bodyEnding(served.url, { path, host: 'fixed.localhost' }), path).toEqual({ status: 200, ending: 'cut' });
    }
    expect((await get('/fixed')).text).toBe('hello world');
  });

  it('holds a tenant that tampers with the stream classes to its declared length, on the host', async () => {
    // Doubling every chunk past the runtime's own count: the excess never reaches the socket,
    // where a keep-alive client would take it for the start of its next response.
    const over = await rawExchange('GET /lie-over HTTP/1.1\r\nHost: fixed.localhost\r\n\r\nGET /fixed HTTP/1.1\r\nHost: fixed.localhost\r\n\r\n');
    expect(over.closed).toBe(true);
    const [head, ...rest] = over.text.split('\r\n\r\n');
    expect(head).toMatch(/content-length: 4/i);
    expect('abcd'.startsWith(rest.join('\r\n\r\n'))).toBe(true);
    // Dropping every chunk: the body ends short, and the client must see it cut, not whole.
    expect(await bodyEnding(served.url, { path: '/lie-short', host: 'fixed.localhost' })).toEqual({ status: 200, ending: 'cut' });
    expect((await get('/fixed')).text).toBe('hello world');
  });

  it('takes a body piped through it, the usual way to give one a Content-Length', async () => {
    const piped = await get('/piped');
    expect([piped.status, piped.text, piped.headers['content-length']]).toEqual([200, 'piped body', '10']);
    expect((await get('/piped-identity')).text).toBe('through');
  });

  it('converts its arguments as workerd does, and takes strings as UTF-8', async () => {
    expect(await (await get('/shape')).json()).toEqual({
      errors: ['TypeError', 'made', 'made', 'TypeError', 'TypeError', 'TypeError'],
      string: 'written',
      afterString: [0xc3, 0xa9],
      isTransform: true,
      tag: '[object FixedLengthStream]',
    });
  });
});

describe('a body the runtime holds, passed on as a stream', () => {
  it('keeps its length, as on workerd: new Response(response.body, response) is not chunked', async () => {
    // Before, each went out chunked: only FixedLengthStreams declared a length.
    const passed = await get('/passed-on');
    expect([passed.text, passed.headers['content-length'], passed.headers['transfer-encoding'], passed.headers['x-from']]).toEqual(['héllo wörld', '13', undefined, 'origin']);
    const cloned = await get('/passed-clone');
    expect([cloned.headers['content-length'], cloned.headers['transfer-encoding']]).toEqual(['7', undefined]);
    const blob = await get('/passed-blob');
    expect([blob.text, blob.headers['content-length'], blob.headers['transfer-encoding']]).toEqual(['abcdef', '6', undefined]);
    // A request body big enough to stream in (past 1 MB), passed back with its Content-Length.
    const body = 'x'.repeat(1_500_000);
    const echoed = await request(served.url, { path: '/passed-request', method: 'POST', host: 'fixed.localhost', body, headers: { 'content-length': String(body.length) } });
    expect([echoed.text.length, echoed.headers['content-length'], echoed.headers['transfer-encoding']]).toEqual([body.length, String(body.length), undefined]);
    // A stream the tenant builds has no length to keep.
    const identity = await get('/identity');
    expect(identity.headers['transfer-encoding']).toBe('chunked');
  });
});

describe('IdentityTransformStream', () => {
  it('passes any BufferSource through as bytes, streamed chunked', async () => {
    const res = await get('/identity');
    expect(res.text).toBe('abcd');
    expect(res.headers['transfer-encoding']).toBe('chunked');
  });
});
