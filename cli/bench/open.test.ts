// The load models against a local server (open.ts, and threads.ts for both models): the
// schedule is kept, coordinated omission is corrected, threads' histograms merge. Latencies are
// compared with each other, never with a speed.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowMs } from './clock.ts';
import { runOpen } from './open.ts';
import { runOnThreads } from './threads.ts';

let url: string;
let server: http.Server;
let stallNext = false;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const answer = () => res.writeHead(req.url === '/missing' ? 404 : 200).end('ok');
    if (stallNext) {
      stallNext = false;
      setTimeout(answer, 300);
    } else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const base = { method: 'GET', headers: {}, body: undefined, timeoutS: 5, thread: 0, threads: 1 };

describe('open model', () => {
  it('sends every scheduled arrival, spread over the routes', async () => {
    const r = await runOpen({ ...base, urls: [`${url}/`, `${url}/missing`], connections: 4, correction: true, startRps: 200, stages: [{ durationS: 0.5, targetRps: 200 }], startMs: nowMs() });
    expect(r.requests).toBe(100);
    expect(r.routes.map((x) => [x.requests, x.non2xx])).toEqual([[50, 0], [50, 50]]);
    expect(r.statuses.get(404)).toBe(50);
  });

  it('counts the wait behind a stalled response (coordinated-omission correction)', async () => {
    stallNext = true;
    const r = await runOpen({ ...base, urls: [`${url}/`], connections: 1, correction: true, startRps: 100, stages: [{ durationS: 1, targetRps: 100 }], startMs: nowMs() });
    expect(r.requests).toBe(100);
    // ~30 arrivals queued behind the 300 ms stall: their corrected latency includes the wait.
    const gapMs = (r.corrected.getValueAtPercentile(90) - r.raw.getValueAtPercentile(90)) / 1000;
    expect(gapMs).toBeGreaterThan(100);
    expect(r.raw.maxValue).toBeGreaterThanOrEqual(290_000);
  });

  it('records raw latency only when correction is off', async () => {
    stallNext = true;
    const r = await runOpen({ ...base, urls: [`${url}/`], connections: 1, correction: false, startRps: 100, stages: [{ durationS: 0.5, targetRps: 100 }], startMs: nowMs() });
    expect(r.corrected.getValueAtPercentile(90)).toBe(r.raw.getValueAtPercentile(90));
  });

  it('splits the schedule across threads and merges their histograms', async () => {
    const { recorder: r } = await runOnThreads({ model: 'open', load: { ...base, urls: [`${url}/`], connections: 4, correction: true, startRps: 300, stages: [{ durationS: 0.5, targetRps: 300 }] } }, 2, false);
    expect(r.requests).toBe(150);
    expect(r.routes[0]!.requests).toBe(150);
    expect(r.seconds.reduce((n, s) => n + s.requests, 0)).toBe(150);
  });

  it('runs the closed model on threads too, each with its share of the connections', async () => {
    const { recorder: r, elapsedS } = await runOnThreads({ model: 'closed', load: { method: 'GET', headers: {}, body: undefined, timeoutS: 5, urls: [`${url}/`, `${url}/missing`], connections: 4, durationS: 0.5 } }, 2, false);
    expect(r.requests).toBeGreaterThan(0);
    expect(r.routes.every((x) => x.requests > 0)).toBe(true);
    expect(r.routes[1]!.non2xx).toBe(r.routes[1]!.requests);
    expect(r.seconds.reduce((n, s) => n + s.requests, 0)).toBe(r.requests);
    expect(elapsedS).toBeGreaterThan(0.4);
  });

  it('counts bytes as the closed model does: whole responses, head and body', async () => {
    const open = await runOpen({ ...base, urls: [`${url}/`], connections: 2, correction: true, startRps: 200, stages: [{ durationS: 0.3, targetRps: 200 }], startMs: nowMs() });
    const { recorder: closed } = await runOnThreads({ model: 'closed', load: { method: 'GET', headers: {}, body: undefined, timeoutS: 5, urls: [`${url}/`], connections: 2, durationS: 0.3 } }, 1, false);
    const perResponse = (r: { bytes: number; requests: number }) => r.bytes / r.requests;
    // A bare "ok" with Node's headers, chunked: ~140 bytes on the wire, of which the body is 2.
    expect(perResponse(closed)).toBeGreaterThan(50);
    expect(Math.abs(perResponse(open) - perResponse(closed))).toBeLessThan(3);
  });

  it('sorts failures into the error taxonomy', async () => {
    const closed = http.createServer();
    await new Promise<void>((res) => closed.listen(0, '127.0.0.1', res));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((res) => closed.close(() => res()));
    const r = await runOpen({ ...base, urls: [`http://127.0.0.1:${port}/`], connections: 2, correction: true, startRps: 40, stages: [{ durationS: 0.25, targetRps: 40 }], startMs: nowMs() });
    expect(r.requests).toBe(0);
    expect(r.errors.connect).toBe(10);
  });
});
