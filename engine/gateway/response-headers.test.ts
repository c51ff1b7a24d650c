// What a tenant's response headers may do to the connection: nothing. Framing (Content-Length,
// Transfer-Encoding) and hop-by-hop headers are the server's; header values HTTP cannot carry are
// the tenant's error, answered as one. Spoken over raw sockets, so that a desynchronised
// connection shows as the wrong bytes.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine.ts';
import { createGateway } from './app.ts';
import { serveGateway, type ServedGateway } from './server.ts';
import { request } from './test-http.ts';

const tenant = `export default {
  fetch(request) {
    const t = new URL(request.url).searchParams.get('t');
    if (t === 'short') return new Response('hello', { headers: { 'content-length': '2' } });
    if (t === 'long') return new Response('hello', { headers: { 'content-length': '100' } });
    if (t === 'chunked') return new Response('hello', { headers: { 'transfer-encoding': 'chunked' } });
    if (t === 'stream') return new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('hello')); c.close(); } }), { headers: { 'content-length': '3', 'transfer-encoding': 'gzip' } });
    if (t === 'hop') return new Response('hello', { headers: { connection: 'close', 'keep-alive': 'timeout=1', upgrade: 'h2c', 'x-kept': 'yes' } });
    if (t === 'ctl') return new Response('hello', { headers: { 'x-c': 'a\\u0001b' } });
    if (t === 'reason') return new Response('hello', { status: 299, statusText: 'Custom Reason' });
    if (t === 'empty') return new Response(null, { headers: { 'content-length': '9' } });
    if (t === 'reset') return new Response('', { status: 205 });
    // A proxy answering HEAD with its origin's HEAD answer: no body, the origin's length.
    if (t === 'head-length') return new Response(null, { headers: { 'content-length': '1234' } });
    if (t === 'head-stream') return new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array(5)); c.close(); } }), { headers: { 'content-length': '5' } });
    if (t === 'text-string') return new Response('x', { headers: { 'x-o': 'é€' } });
    if (t === 'text-null') return new Response(null, { headers: { 'x-o': 'é€' } });
    if (t === 'text-stream') return new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array([120])); c.close(); } }), { headers: { 'x-o': 'é€' } });
    if (t === 'echo') {
      const v = request.headers.get('x-u');
      return new Response([...v].map((c) => c.codePointAt(0).toString(16)).join(' '), { headers: { 'x-o': v } });
    }
    if (t === 'reason-stream') return new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('hello')); c.close(); } }), { status: 404, statusText: 'Nope' });
    if (t === 'cookies-bytes' || t === 'cookies-stream') {
      const headers = new Headers([['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
      const png = new Uint8Array([137, 80, 78, 71]);
      return new Response(t === 'cookies-bytes' ? png : new ReadableStream({ start(c) { c.enqueue(png); c.close(); } }), { headers });
    }
    return new Response('next');
  },
};`;

let engine: Engine;
let served: ServedGateway;

beforeAll(async () => {
  engine = new Engine();
  await engine.deploy('t', { code: tenant });
  served = await serveGateway(createGateway(engine), { port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await served.close(100);
  await engine.close();
});

/** Writes `text` on a new connection; resolves with every byte the server sent until it closed it. */
function exchange(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(served.port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => { received += chunk.toString('latin1'); });
    socket.on('end', () => resolve(received));
    socket.on('error', reject);
    socket.write(text);
  });
}

/** Sends `paths` pipelined on one connection; resolves with every byte the server sent until it went quiet. */
function pipelined(paths: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(served.port, '127.0.0.1');
    let received = '';
    let quiet: NodeJS.Timeout | undefined;
    const settle = () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        socket.destroy();
        resolve(received);
      }, 300);
    };
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      settle();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.write(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: t.localhost\r\n\r\n`).join(''));
    settle();
  });
}

/** Splits raw HTTP/1.1 responses the way a client does: by each one's own framing. */
function parseResponses(raw: string): { head: string; body: string }[] {
  const out: { head: string; body: string }[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`not a response: ${JSON.stringify(rest.slice(0, 60))}`);
    const head = rest.slice(0, end);
    rest = rest.slice(end + 4);
    const length = /\r\ncontent-length: (\d+)/i.exec(head);
    if (/\r\ntransfer-encoding: chunked/i.test(head)) {
      let body = '';
      for (;;) {
        const line = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, line), 16);
        rest = rest.slice(line + 2);
        if (size === 0) {
          rest = rest.slice(2);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
      out.push({ head, body });
    } else {
      const n = length ? Number(length[1]) : rest.length;
      out.push({ head, body: rest.slice(0, n) });
      rest = rest.slice(n);
    }
  }
  return out;
}

describe('CONNECT', () => {
  it('is answered 501, not a connection closed without a word', async () => {
    const raw = await new Promise<string>((resolve) => {
      const socket = connect(served.port, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => { received += chunk.toString('latin1'); });
      socket.on('close', () => resolve(received));
      socket.on('error', () => resolve(received));
      socket.write('CONNECT t.localhost:443 HTTP/1.1\r\nHost: t.localhost:443\r\n\r\n');
    });
    expect(raw).toMatch(/^HTTP\/1\.1 501 Not Implemented\r\n/);
    expect(raw).toContain('\r\nislet-error: not-implemented\r\n');
    expect(raw.endsWith('"message":"CONNECT is not served here"}')).toBe(true);
  });
});

describe('HEAD', () => {
  it("goes out with the function's own Content-Length, as on workerd (GET keeps the body's)", async () => {
    // Before, a HEAD answer with no body said "content-length: 0": a proxied file looked empty.
    const head = (t: string) => request(served.url, { path: `/?t=${t}`, method: 'HEAD', host: 't.localhost' });
    expect((await head('head-length')).headers['content-length']).toBe('1234');
    expect((await head('head-stream')).headers['content-length']).toBe('5');
    expect((await request(served.url, { path: '/?t=head-length', host: 't.localhost' })).headers['content-length']).toBe('0');
  });
});

describe('header values that are not ASCII', () => {
  /** The bytes of the x-o header the server sent for `head`, as hex, and the body. */
  const sent = (head: Buffer) => new Promise<{ value: string; body: string }>((resolve, reject) => {
    const socket = connect(served.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => {
      const raw = Buffer.concat(chunks);
      const at = raw.indexOf('\r\nx-o: ') + 7;
      const bodyAt = raw.indexOf('\r\n\r\n') + 4;
      let body = raw.subarray(bodyAt).toString('latin1');
      // A chunked body: its one chunk's bytes.
      if (/^[0-9a-f]+\r\n/.test(body)) body = body.split('\r\n')[1]!;
      resolve({ value: raw.subarray(at, raw.indexOf('\r\n', at)).toString('hex'), body });
    });
    socket.on('error', reject);
    socket.write(head);
  });
  const get = (t: string, extra = Buffer.alloc(0)) => sent(Buffer.concat([Buffer.from(`GET /?t=${t} HTTP/1.1\r\nHost: t.localhost\r\nConnection: close\r\n`), extra, Buffer.from('\r\n')]));

  it('go out as UTF-8, as on workerd, whatever the body is', async () => {
    // Before, € was a TypeError (Fetch's ByteString), and é went out as E9 with no body and as
    // C3 A9 with a string or a stream: Node writes a head in its first chunk's encoding.
    for (const t of ['text-string', 'text-null', 'text-stream']) expect((await get(t)).value, t).toBe('c3a9e282ac');
  });

  it('come in as UTF-8 (a byte that is none as U+FFFD), and go back out as they came', async () => {
    const echo = (bytes: string) => get('echo', Buffer.from(`x-u: ${bytes}\r\n`, 'latin1'));
    // "é€" sent as UTF-8: read as two characters, and sent back as the same bytes.
    expect(await echo(Buffer.from('é€', 'utf8').toString('latin1'))).toEqual({ value: 'c3a9e282ac', body: 'e9 20ac' });
    // A Latin-1 é is no UTF-8: U+FFFD, as workerd reads it.
    expect(await echo('\xe9')).toEqual({ value: 'efbfbd', body: 'fffd' });
  });
});

describe('a request the server cannot read', () => {
  const exchange = (request: string) => new Promise<string>((resolve) => {
    const socket = connect(served.port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => { received += chunk.toString('latin1'); });
    socket.on('close', () => resolve(received));
    socket.on('error', () => resolve(received));
    socket.write(request);
  });

  it("is refused in islet's error shape, whether Node's parser or the URL it makes of Host refuses it", async () => {
    // Before, each was a bare 400 with no body: @hono/node-server's own answer to a Host it could
    // not make a URL of, and Node's to a target it could not parse.
    for (const request of [
      'GET / HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: t.localhost:99999\r\nConnection: close\r\n\r\n',
      'GET * HTTP/1.1\r\nHost: t.localhost\r\nConnection: close\r\n\r\n',
      'GET x HTTP/1.1\r\nHost: t.localhost\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: t.localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
    ]) {
      const raw = await exchange(request);
      expect(raw, request).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(raw, request).toContain('\r\nislet-error: bad-request\r\n');
      expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).error, request).toBe('bad_request');
    }
    const tooBig = await exchange(`GET / HTTP/1.1\r\nHost: t.localhost\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(tooBig).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(tooBig).toContain('\r\nislet-error: headers-too-large\r\n');
    // The server is none the worse.
    expect((await exchange('GET /?t=next HTTP/1.1\r\nHost: t.localhost\r\nConnection: close\r\n\r\n')).endsWith('next')).toBe(true);
  });
});

describe("a tenant's status text", () => {
  it('is the status line\'s reason phrase, as on Workers, for fixed and streamed bodies; the default otherwise', async () => {
    const responses = parseResponses(await pipelined(['/?t=reason', '/?t=reason-stream', '/?t=next']));
    expect(responses.map((r) => r.head.split('\r\n')[0])).toEqual(['HTTP/1.1 299 Custom Reason', 'HTTP/1.1 404 Nope', 'HTTP/1.1 200 OK']);
    expect(responses.map((r) => r.body)).toEqual(['hello', 'hello', 'next']);
    // And to the library's callers, as the Response's statusText; no pseudo-header is left behind.
    const res = await engine.fetch('t', new Request('http://t.test/?t=reason'));
    expect([res.status, res.statusText, [...res.headers.keys()].filter((k) => k.startsWith(':'))]).toEqual([299, 'Custom Reason', []]);
  });
});

describe("a tenant's response headers", () => {
  it('cannot set the framing: the server frames the body it has, and the next response on the connection is intact', async () => {
    for (const t of ['short', 'long', 'chunked', 'stream']) {
      const responses = parseResponses(await pipelined([`/?t=${t}`, '/?t=next']));
      expect(responses.map((r) => r.body), t).toEqual(['hello', 'next']);
      const head = responses[0]!.head.toLowerCase();
      // One framing, never both (RFC 9112 §6.1).
      expect(head.includes('content-length:') && head.includes('transfer-encoding:'), t).toBe(false);
      expect(head, t).not.toMatch(/transfer-encoding: gzip/);
    }
  });

  it('cannot set hop-by-hop headers: the connection stays as the server keeps it', async () => {
    const responses = parseResponses(await pipelined(['/?t=hop', '/?t=next']));
    expect(responses.map((r) => r.body)).toEqual(['hello', 'next']);
    const head = responses[0]!.head.toLowerCase();
    expect(head).toContain('x-kept: yes');
    expect(head).not.toMatch(/upgrade:|keep-alive: timeout=1|connection: close/);
  });

  it('get no Content-Type the function did not give, as on workerd, two Set-Cookies or not', async () => {
    // A repeated name took @hono/node-server's path that types every body "text/plain".
    for (const t of ['cookies-bytes', 'cookies-stream']) {
      const raw = await exchange(`GET /?t=${t} HTTP/1.1\r\nHost: t.localhost\r\nConnection: close\r\n\r\n`);
      const head = raw.slice(0, raw.indexOf('\r\n\r\n')).toLowerCase();
      expect(head, t).not.toContain('content-type');
      expect(head.match(/set-cookie: [ab]=[12]/g), t).toEqual(['set-cookie: a=1', 'set-cookie: b=2']);
    }
  });

  it('say an answer without a body has a length of 0 (205 included), as workerd does, not a chunked nothing', async () => {
    for (const t of ['empty', 'reset']) {
      const raw = await exchange(`GET /?t=${t} HTTP/1.1\r\nHost: t.localhost\r\nConnection: close\r\n\r\n`);
      const head = raw.slice(0, raw.indexOf('\r\n\r\n')).toLowerCase();
      expect(head, t).toContain('content-length: 0');
      expect(head, t).not.toContain('transfer-encoding');
      expect(raw.slice(raw.indexOf('\r\n\r\n') + 4), t).toBe('');
    }
  });

  it('on HEAD, carry the length GET would have, and no body', async () => {
    const raw = await exchange('HEAD /?t=hop HTTP/1.1\r\nHost: t.localhost\r\n\r\nGET /?t=next HTTP/1.1\r\nHost: t.localhost\r\nConnection: close\r\n\r\n');
    const [head, rest] = [raw.slice(0, raw.indexOf('\r\n\r\n')), raw.slice(raw.indexOf('\r\n\r\n') + 4)];
    expect(head.toLowerCase()).toContain('content-length: 5');
    // No body after the HEAD answer: the next bytes are the GET's answer.
    expect(rest).toMatch(/^HTTP\/1\.1 200/);
    expect(parseResponses(rest).map((r) => r.body)).toEqual(['next']);
  });

  it('with a value HTTP cannot carry, answer 500 as the tenant\'s exception, counted as one', async () => {
    const res = await request(served.url, { path: '/?t=ctl', host: 't.localhost' });
    expect([res.status, res.headers['islet-error']]).toEqual([500, 'exception']);
    expect(res.json()).toMatchObject({ error: 'exception' });
    expect(await engine.metrics.text()).toMatch(/islet_requests_total\{function="t",status="500"\} 1/);
    expect((await request(served.url, { path: '/', host: 't.localhost' })).text).toBe('next');
  });
});
