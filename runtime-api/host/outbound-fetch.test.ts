// fetch() and the Request it sends, inside an isolate, against a server on 127.0.0.1: a Request's
// own signal aborts the subrequest, and an incoming request forwarded as is keeps redirects manual.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/index.ts';

let origin: string;
let server: http.Server;
let engine: Engine;
let slowClosed: Promise<boolean> | undefined;
let hits = 0;
let slowArrived: () => void;
const slowSeen = new Promise<void>((r) => (slowArrived = r));

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits++;
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/elsewhere' });
      return res.end();
    }
    if (req.url === '/slow') {
      slowClosed = new Promise((r) => res.on('close', () => r(true)));
      setTimeout(() => res.end('late'), 2_000).unref();
      slowArrived();
      return;
    }
    // Answers once /slow has arrived: the tenant aborts /slow then, not after a guessed delay.
    if (req.url === '/wait-slow') return void slowSeen.then(() => res.end('ok'));
    // The bytes of the x-u header it got, as hex, and a header of its own in UTF-8.
    if (req.url === '/text') {
      const got = Buffer.from(req.headers['x-u'] as string, 'latin1').toString('hex');
      res.writeHead(200, { 'x-o': Buffer.from('ĉu €', 'utf8').toString('latin1') });
      return res.end(got);
    }
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  engine = new Engine();
});

afterAll(async () => {
  await engine.close();
  server.close();
});

async function call(fn: string, code: string): Promise<any> {
  await engine.deploy(fn, { code, egress: { allowPrivate: true } });
  const res = await engine.fetch(fn, new Request(`http://${fn}.test/?origin=${encodeURIComponent(origin)}`));
  return res.json();
}

describe('fetch(request) from tenant code', () => {
  it('sends header values as UTF-8 and reads them so, as workerd does', async () => {
    const out = await call('header-text', `export default { async fetch(request) {
      const origin = new URL(request.url).searchParams.get('origin');
      const res = await fetch(origin + '/text', { headers: { 'x-u': 'é€' } });
      return Response.json({ sent: await res.text(), got: res.headers.get('x-o') });
    } }`);
    expect(out).toEqual({ sent: 'c3a9e282ac', got: 'ĉu €' });
  });

  it("honours the Request's signal: aborted before, or aborted while the subrequest runs", async () => {
    hits = 0;
    const out = await call('request-signal', `export default { async fetch(request) {
      const origin = new URL(request.url).searchParams.get('origin');
      const name = (p) => p.then(() => 'no error', (e) => e.name ?? e);
      const early = await name(fetch(new Request(origin + '/', { signal: AbortSignal.abort() })));
      const reason = await name(fetch(new Request(origin + '/', { signal: AbortSignal.abort('mine') })));
      const c = new AbortController();
      const late = name(fetch(new Request(origin + '/slow', { signal: c.signal })));
      await fetch(origin + '/wait-slow');
      c.abort();
      // A Request made from one with a signal follows that signal too.
      const copied = await name(fetch(new Request(new Request(origin + '/', { signal: AbortSignal.abort() }))));
      // Integrity metadata islet cannot check is refused (as workerd does), not silently ignored.
      const integrity = await name(fetch(origin + '/', { integrity: 'sha256-x' }));
      return Response.json({ early, reason, late: await late, copied, integrity });
    } }`);
    expect(out).toEqual({ early: 'AbortError', reason: 'mine', late: 'AbortError', copied: 'AbortError', integrity: 'TypeError' });
    expect(await slowClosed).toBe(true);
    expect(hits).toBe(2); // only /slow and /wait-slow: the aborted ones never left the isolate
  });

  it('passes a redirect through when a proxy forwards the incoming request (its redirect mode is manual)', async () => {
    const out = await call('forward', `export default { async fetch(request) {
      const origin = new URL(request.url).searchParams.get('origin');
      const res = await fetch(new Request(origin + '/redirect', request));
      return Response.json({ mode: request.redirect, status: res.status, location: res.headers.get('location') });
    } }`);
    expect(out).toEqual({ mode: 'manual', status: 302, location: '/elsewhere' });
  });
});
