// What a hostile tenant tries, for the tests of the tiers that claim to stop it: handler code
// that fills `results` with one line per probe, "ok: …" when it got through or "denied: <error
// code>", aimed at a server on the host's loopback and a file of the host's. It runs with Node
// built-ins (process tier and heavier).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';

/** A file of the host's that no sandbox may read. */
export const HOST_FILE = fileURLToPath(new URL('../../package.json', import.meta.url));

const probesAt = (port: number) => `
  const fs = await import('node:fs');
  const net = await import('node:net');
  const tryIt = async (f) => { try { return 'ok: ' + String(await f()).slice(0, 80); } catch (e) { return 'denied: ' + (e.code ?? e.message); } };
  const connect = (host, p) => new Promise((resolve, reject) => {
    const s = net.connect({ host, port: p, timeout: 2000 }, () => { s.destroy(); resolve('connected'); });
    s.on('error', reject);
    s.on('timeout', () => { s.destroy(); reject(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })); });
  });
  const results = {
    passwd: await tryIt(() => fs.readFileSync('/etc/passwd', 'utf8')),
    repo: await tryIt(() => fs.readFileSync(${JSON.stringify(HOST_FILE)}, 'utf8')),
    hostProcesses: await tryIt(() => fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).length > 3 ? 'many' : (() => { throw Object.assign(new Error(), { code: 'FEW' }); })()),
    write: await tryIt(() => fs.writeFileSync('/tmp/owned', 'x')),
    loopback: await tryIt(() => connect('127.0.0.1', ${port})),
    internet: await tryIt(() => connect('1.1.1.1', 53)),
  };`;

/** Starts the loopback server around the calling test file; `probes()` is the code aimed at it. */
export function hostileProbes(): { probes(): string } {
  let server: http.Server;
  let port = 0;
  beforeAll(async () => {
    server = http.createServer((_req, res) => res.end('host secret'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => server.close());
  return { probes: () => probesAt(port) };
}
