// A small HTTP client for end-to-end tests: plain node:http, so tests can set any Host header and
// see exactly what the server sent.
import http from 'node:http';
import { createServer } from 'node:net';

export interface TestResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json<T = any>(): T;
}

export interface TestRequest {
  method?: string;
  path?: string;
  host?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export function request(baseUrl: string, req: TestRequest = {}): Promise<TestResponse> {
  const url = new URL(req.path ?? '/', baseUrl);
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: req.method ?? 'GET',
        headers: { ...(req.host ? { host: req.host } : {}), ...req.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

/**
 * How a response's body ended: `whole` when its framing's end came, `cut` when the connection
 * closed first (or no answer came: status 0). A server must cut, not end, a streamed body that
 * fails midway, so that the client knows it is incomplete.
 */
export function bodyEnding(baseUrl: string, req: TestRequest = {}): Promise<{ status: number; ending: 'whole' | 'cut' }> {
  const url = new URL(req.path ?? '/', baseUrl);
  return new Promise((resolve) => {
    const cut = (status: number) => () => resolve({ status, ending: 'cut' });
    http.get({ hostname: url.hostname, port: url.port, path: url.pathname + url.search, headers: req.host ? { host: req.host } : {}, agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      res.on('data', () => {});
      res.on('end', () => resolve({ status, ending: 'whole' }));
      res.on('error', cut(status));
      res.on('aborted', cut(status));
    }).on('error', cut(0));
  });
}

/** A TCP port free on 127.0.0.1 right now (for servers started as child processes). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * Sends a GET and destroys the connection `after` ms, or once the first body bytes came: a client
 * that leaves before its answer is complete. Resolves when the connection has closed.
 */
export function disconnectEarly(baseUrl: string, req: TestRequest, after: number | 'first-bytes'): Promise<void> {
  const url = new URL(req.path ?? '/', baseUrl);
  return new Promise((resolve) => {
    const headers = req.host ? { host: req.host } : {};
    const r = http.get({ hostname: url.hostname, port: url.port, path: url.pathname + url.search, headers, agent: false }, (res) => {
      if (after === 'first-bytes') res.once('data', () => r.destroy());
    });
    r.on('error', () => {});
    r.on('close', () => resolve());
    if (after !== 'first-bytes') setTimeout(() => r.destroy(), after);
  });
}

/** POSTs `total` bytes in `chunk`-sized writes with chunked transfer encoding: what came back. */
export function chunkedUpload(baseUrl: string, req: TestRequest, total: number, chunk = 256 * 1024): Promise<{ status: number; text: string }> {
  const url = new URL(req.path ?? '/', baseUrl);
  return new Promise((resolve, reject) => {
    const headers = req.host ? { host: req.host } : {};
    const r = http.request({ hostname: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => { text += s; });
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    r.on('error', reject);
    const block = Buffer.alloc(chunk, 97);
    let sent = 0;
    const write = () => {
      while (sent < total) {
        const n = Math.min(chunk, total - sent);
        sent += n;
        if (!r.write(n === chunk ? block : block.subarray(0, n))) return void r.once('drain', write);
      }
      r.end();
    };
    write();
  });
}
