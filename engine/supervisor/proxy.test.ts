// forward() on its own: a front server proxying to an engine socket that refuses connections.
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from '../gateway/test-http.ts';
import { forward } from './proxy.ts';

let front: http.Server | undefined;
afterEach(() => front?.close());

/** A front whose every request goes to a Unix socket no one listens on; `resend` answers instead, if given. */
async function frontToNowhere(resend?: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  // An engine that died: its socket file gone (ENOENT), as a dead engine's is refused.
  const pool = new Pool('http://engine', { socketPath: path.join(tmpdir(), `islet-no-engine-${process.pid}.sock`) });
  const failed: string[] = [];
  front = http.createServer((req, res) => {
    forward(pool, req, res, 'hello', () => {}, () => failed.push(req.url!), resend && (() => resend(req, res)));
  });
  await new Promise<void>((r) => front!.listen(0, '127.0.0.1', r));
  const { port } = front.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, failed };
}

describe('forward', () => {
  it('hands back a request whose connection was refused, body and all, to be sent again rather than answered 502', async () => {
    const { url, failed } = await frontToNowhere((req, res) => {
      // What the replacement engine would get: the request, its body unread until now.
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => res.end(`resent ${req.method} ${req.url} ${Buffer.concat(chunks)}`));
    });
    expect((await request(url, { path: '/a' })).text).toBe('resent GET /a ');
    expect((await request(url, { method: 'PUT', path: '/b', body: 'payload' })).text).toBe('resent PUT /b payload');
    // The supervisor still hears that the engine's connection failed (it checks the engine).
    expect(failed).toEqual(['/a', '/b']);
  });

  it('answers 502 engine-restarted when it is not to send again (the second try)', async () => {
    const { url } = await frontToNowhere();
    const res = await request(url, { path: '/a' });
    expect([res.status, res.headers['islet-error']]).toEqual([502, 'engine-restarted']);
  });
});
