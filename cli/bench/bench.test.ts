// End to end through the real `islet bench` command: it starts `islet serve` with a fixture as a
// child, loads it for a second, and prints a well-formed report. Nothing here asserts a speed.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkReport } from './report.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let tmp: string;

function islet(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--no-node-snapshot', path.join(ROOT, 'cli/islet.js'), 'bench', ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'islet-bench-cli-'));
});

afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('islet bench', () => {
  it('benchmarks a fixture and prints one well-formed JSON document, saved and charted too', async () => {
    const out = path.join(tmp, 'run.json');
    const chart = path.join(tmp, 'run.svg');
    const r = await islet(['--fixture', 'hello', '-d', '1', '--warmup', '0', '-c', '4', '--json', '--out', out, '--chart', chart, '--assert', 'errors=0,non2xx=0,requests>0']);
    expect(r.code, r.stderr).toBe(0);
    const report = checkReport(JSON.parse(r.stdout), 'stdout');
    expect(report.model).toBe('closed');
    expect(report.target.fixture).toBe('hello');
    expect(report.requests.total).toBeGreaterThan(0);
    expect(report.errors.total).toBe(0);
    expect(report.latencyMs.p99).toBeGreaterThan(0);
    expect(report.latencyMs.p50).toBeLessThanOrEqual(report.latencyMs.p99);
    expect(report.timeline.reduce((n, s) => n + s.requests, 0)).toBe(report.requests.total);
    expect(report.generator.threads).toBe(1);
    // The server's view: the metrics endpoint's answer, whichever it is, with a reason when off.
    expect(report.server).toBeDefined();
    if (report.server!.available) expect(report.server!.functions.map((f) => f.function)).toContain('hello');
    else expect(report.server!.reason).toMatch(/_islet\/metrics/);
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual(JSON.parse(r.stdout));
    expect(await readFile(chart, 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);

    const compared = await islet(['--compare', out, out]);
    expect(compared.code, compared.stderr).toBe(0);
    expect(compared.stdout).toMatch(/p99 .* within noise/);
  }, 60_000);

  it('exits 1 with a one-line reason when an assertion fails, and runs the open model', async () => {
    const r = await islet(['--fixture', 'json-api', '/greeting', '/nope', '-d', '1', '--warmup', '0', '--rate', '50', '-c', '2', '--assert', 'non2xx=0']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^islet bench: assertion failed: non2xx=0 \(measured non2xx = \d+\)$/);
    expect(r.stdout).toMatch(/open model, 50 req\/s/);
    expect(r.stdout).toMatch(/corrected .*\n\s*raw /);
    expect(r.stdout).toContain('/greeting');
    expect(r.stdout).toMatch(/non-2xx \d+: 404 ×\d+/);
  }, 60_000);

  it("adds the server's side from /_islet/metrics, read before and after the window", async () => {
    let scrapes = 0;
    const server = http.createServer((req, res) => {
      if (req.url !== '/_islet/metrics') return void res.end('hello');
      if (req.headers.authorization !== 'Bearer t0k') return void res.writeHead(401).end();
      const n = scrapes++;
      res.end(`islet_cpu_seconds_total{function="hello",engine="0"} ${n * 0.5}\nislet_cold_starts_total{function="hello",engine="0"} ${n}\nprocess_cpu_seconds_total ${n * 2}\n`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const r = await islet([url, '-d', '1', '--warmup', '0', '-c', '2', '--json', '--admin-token', 't0k']);
      expect(r.code, r.stderr).toBe(0);
      const report = checkReport(JSON.parse(r.stdout), 'stdout');
      expect(scrapes).toBe(2);
      expect(report.server).toMatchObject({ available: true, processCpuMs: 2000, functions: [{ function: 'hello', cpuMs: 500, coldStarts: 1 }] });
      const text = await islet([url, '-d', '1', '--warmup', '0', '-c', '2', '--admin-token', 't0k']);
      expect(text.stdout).toMatch(/server \(\/_islet\/metrics, same window\): CPU 2000 ms/);
      expect(text.stdout).toMatch(/hello\s+0\s+500\.0/);
    } finally {
      server.close();
    }
  }, 60_000);

  it('measures for the time asked, after a warm-up too, and under a second', async () => {
    const server = http.createServer((_req, res) => res.end('hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      // autocannon looked at its stop flag once a second: 2 s after a warm-up often ran 3, and
      // 500 ms a whole second.
      for (const [duration, seconds] of [['2', 2], ['500ms', 0.5]] as const) {
        const r = await islet([url, '-d', duration, '--warmup', '1', '-c', '2', '--json']);
        expect(r.code, r.stderr).toBe(0);
        const { elapsedS } = JSON.parse(r.stdout) as { elapsedS: number };
        expect(elapsedS, duration).toBeGreaterThanOrEqual(seconds);
        expect(elapsedS, duration).toBeLessThan(seconds + 0.4);
      }
    } finally {
      server.close();
    }
  }, 60_000);

  it('refuses bad usage with exit 2 before any load', async () => {
    const r = await islet(['--fixture', 'hello', '--assert', 'speed>1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown metric "speed"/);
    const missing = await islet(['--fixture', 'no-such-fixture', '-d', '1']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no fixtures\/no-such-fixture/);
    const notReport = await islet(['--compare', path.join(ROOT, 'package.json'), path.join(ROOT, 'package.json')]);
    expect(notReport.code).toBe(2);
    expect(notReport.stderr).toMatch(/not an "islet bench --out" report/);
  }, 60_000);
});
