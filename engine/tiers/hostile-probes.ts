// What a hostile tenant tries, for the tests of the tiers that claim to stop it: the code of a
// handler's body that fills `results` with one line per probe, "ok: …" when it got through or
// "denied: <error code>". It runs with Node built-ins (process tier and heavier).

/** `port` is a server on the host's loopback; `hostFile` a file of the host's the tenant must not read. */
export const hostileProbes = (port: number, hostFile: string) => `
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
    repo: await tryIt(() => fs.readFileSync(${JSON.stringify(hostFile)}, 'utf8')),
    hostProcesses: await tryIt(() => fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).length > 3 ? 'many' : (() => { throw Object.assign(new Error(), { code: 'FEW' }); })()),
    write: await tryIt(() => fs.writeFileSync('/tmp/owned', 'x')),
    loopback: await tryIt(() => connect('127.0.0.1', ${port})),
    internet: await tryIt(() => connect('1.1.1.1', 53)),
  };`;
