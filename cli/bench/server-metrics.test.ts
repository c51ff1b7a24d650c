// Against a fake server that speaks the /_islet/metrics contract (Prometheus text, bearer token).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../../engine/gateway/test-http.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeMetrics, serverView } from './server-metrics.ts';

const TOKEN = 'metrics-token';
let scrape = 0;
let origin: string;
let server: http.Server;

/** Contract text; every scrape advances the counters as if the window served requests. */
function metricsText(n: number): string {
  return [
    '# HELP islet_requests_total Requests answered',
    '# TYPE islet_requests_total counter',
    `islet_requests_total{function="hello",status="200"} ${100 + n * 1000}`,
    `islet_requests_total{function="hog",status="503"} ${n * 2}`,
    `islet_cpu_seconds_total{function="hello"} ${0.5 + n * 0.25}`,
    `islet_cpu_seconds_total{function="hog"} ${n * 0.1}`,
    `islet_heap_bytes{function="hello"} ${1_000_000 + n}`,
    `islet_cold_starts_total{function="hello"} ${1 + n}`,
    `islet_limit_kills_total{function="hog",limit="cpu"} ${n * 2}`,
    'islet_limit_kills_total{function="hog",limit="memory"} 0',
    `islet_shed_total{function="hello",reason="queue_full"} ${n * 3}`,
    'islet_request_duration_seconds_bucket{function="hello",le="+Inf"} 5',
    'islet_isolates_alive 3',
    `process_cpu_seconds_total ${10 + n * 0.5}`,
    'process_resident_memory_bytes 123456789',
    '',
  ].join('\n');
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url !== '/_islet/metrics') return void res.writeHead(404).end('not found');
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metricsText(scrape++));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('server metrics for the measured window', () => {
  it('reports per-function CPU, heap, cold starts, limit kills and shedding as differences', async () => {
    const before = await scrapeMetrics(origin, TOKEN);
    const after = await scrapeMetrics(origin, TOKEN);
    const view = serverView(before, after, 1000);
    expect(view).toEqual({
      available: true,
      processCpuMs: 500,
      cpuUsPerRequest: 500,
      rssBytes: 123456789,
      isolatesAlive: 3,
      functions: [
        { function: 'hello', requests: 1000, cpuMs: 250, heapBytes: 1_000_001, coldStarts: 1, limitKills: {}, shed: 3 },
        { function: 'hog', requests: 2, cpuMs: 100, heapBytes: 0, coldStarts: 0, limitKills: { cpu: 2, memory: 0 }, shed: 0 },
      ],
    });
  });

  it('is unavailable, with the reason, without the token or on a server without the endpoint', async () => {
    const noToken = await scrapeMetrics(origin, undefined);
    expect(serverView(noToken, noToken, 1)).toEqual({ available: false, reason: expect.stringMatching(/401.*--admin-token/) });
    const nobody = await scrapeMetrics(`http://127.0.0.1:${await freePort()}`, TOKEN);
    expect(nobody).toEqual({ ok: false, reason: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('says 404 plainly', async () => {
    const plain = http.createServer((_req, res) => res.writeHead(404).end());
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      const s = await scrapeMetrics(`http://127.0.0.1:${(plain.address() as AddressInfo).port}`, TOKEN);
      expect(serverView(s, s, 1)).toEqual({ available: false, reason: '/_islet/metrics answered 404' });
    } finally {
      plain.close();
    }
  });
});
