// An engine process under the supervisor: the same Engine and gateway as `islet serve
// --in-process`, serving connections the supervisor hands over (and its own Unix socket, which
// the supervisor proxies to with several workers), with its functions handed over the IPC
// channel so that a replacement process starts with everything its predecessor had.
import type { Socket } from 'node:net';
import { Hono } from 'hono';
import { Engine, type FunctionConfig } from '../engine.ts';
import { createGateway, serveGateway, type ServedGateway } from '../gateway/index.ts';
import { createLogger, type Logger } from '../observe/index.ts';
import { hostTiers } from '../tiers/index.ts';
import { AdoptedConnections } from './adopted-connections.ts';
import { clusterStatus, supervisorMetrics, type SupervisorInfo } from './cluster-status.ts';
import { mergeMetrics } from './metrics-merge.ts';
import type { EngineStart, FromEngine, ToEngine } from './protocol.ts';

/** Deploys loaded at once when a batch arrives: bundling and booting overlap, within reason. */
const DEPLOY_CONCURRENCY = 16;
/** Deployed and removed before the supervisor can send any function of its own. */
const WARM_UP = 'islet-warm-up';

// The callback keeps a write to a supervisor that just died from being an uncaught 'error'.
const send = (m: FromEngine) => process.connected && process.send!(m, undefined, undefined, () => {});
let engine: Engine | undefined;
let logger: Logger | undefined;
/** How long a draining engine waits for its log to be written before it ends. */
const LOG_FLUSH_MS = 1_000;
let served: ServedGateway | undefined;
let adopted: AdoptedConnections | undefined;
let draining = false;
/** Set with connection handoff, where this engine answers status and metrics for the supervisor. */
let info: SupervisorInfo | undefined;

process.on('message', (m: ToEngine, handle?: Socket) => {
  if (m.t === 'start') void start(m);
  else if (m.t === 'conn') adopted!.adopt(m.id, handle!);
  else if (m.t === 'release') {
    adopted!.release();
    // Its WebSockets would never be idle: asked to go now (their clients reconnect, to the new
    // engine), rather than held to the grace.
    for (const ws of served?.webSockets.clients ?? []) ws.close(1001, 'the server is restarting');
  }
  else if (m.t === 'info') info = m.info;
  else if (m.t === 'deploy') void deployAll(m.functions, m.boot).then((errors) => send({ t: 'done', id: m.id, errors }));
  else if (m.t === 'undeploy') void engine!.undeploy(m.name).then(() => send({ t: 'done', id: m.id, errors: {} }));
  else if (m.t === 'drain') void drain(m.graceMs);
  else if (m.t === 'ping') send({ t: 'done', id: m.id, errors: {} });
  else if (m.t === 'placed') {
    placing.get(m.id)?.(m.ok);
    placing.delete(m.id);
  }
});

/** Functions this engine asked the supervisor to place here (a service binding's target), by request id. */
const placing = new Map<number, (ok: boolean) => void>();
let nextPlace = 1;
function place(name: string): Promise<boolean> {
  const id = nextPlace++;
  return new Promise((resolve) => {
    placing.set(id, resolve);
    send({ t: 'place', id, name });
  });
}
// The supervisor is gone (it was killed): nobody can reach this process any more.
process.on('disconnect', () => void drain(0));
process.on('SIGTERM', () => void drain(10_000));
process.on('SIGINT', () => {});
send({ t: 'up' });

async function start(m: EngineStart): Promise<void> {
  const { containerRuntime, ...settings } = m.engine ?? {};
  logger = createLogger();
  // With several engines a function's service binding may name one placed on another engine:
  // the supervisor places it here too, and the call stays in process.
  engine = new Engine({ ...settings, tiers: hostTiers({ containerRuntime }), logger, placeService: place });
  // Make the runtime snapshot and fill the template pool now, not when the first function
  // arrives: a standby engine is then ready to take over in the time it takes to bundle.
  await engine.deploy(WARM_UP, { code: 'export default { fetch: () => new Response(null) }' });
  await engine.undeploy(WARM_UP);
  const app = new Hono();
  app.get('/_islet/status', async (c, next) => {
    await next();
    if (!info || c.res.status !== 200) return;
    const status = (await c.res.json()) as Record<string, unknown>;
    c.res = c.json(clusterStatus([{ pid: process.pid, inFlight: adopted?.total ?? 0, status }], info));
  });
  app.get('/_islet/metrics', async (c, next) => {
    await next();
    if (!info || c.res.status !== 200) return;
    const text = mergeMetrics([await c.res.text()], ['0']);
    c.res = c.body(supervisorMetrics(info) + text, 200, { 'content-type': c.res.headers.get('content-type') ?? 'text/plain' });
  });
  // Deploys and removals through the admin API, reported as they take effect, so that an engine
  // started later deploys the same functions (the whole config: a tier, needs or an AI binding
  // left out would boot it elsewhere, or without its binding).
  const onAdminWrite = (name: string, config: FunctionConfig | undefined) => send(config ? { t: 'deployed', name, config } : { t: 'removed', name });
  app.route('/', createGateway(engine, { adminToken: m.adminToken, onAdminWrite, trustProxy: m.trustProxy ?? false }));
  served = await serveGateway(app, { path: m.socketPath });
  adopted = new AdoptedConnections(served.server as import('node:http').Server, (r) => send({ t: 'conns', ...r }), served.webSockets);
  send({ t: 'listening' });
}

async function deployAll(functions: [string, FunctionConfig][], boot: boolean): Promise<Record<string, string>> {
  const errors: Record<string, string> = {};
  let next = 0;
  const lane = async () => {
    while (next < functions.length) {
      const [name, config] = functions[next++]!;
      try {
        const { bundle } = await engine!.deploy(name, config, { boot });
        if (config.entry !== undefined && config.bundle === undefined) send({ t: 'bundled', name, bundle: { ...bundle, inputs: [] } });
      } catch (err) {
        errors[name] = (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DEPLOY_CONCURRENCY, functions.length) }, lane));
  return errors;
}

/**
 * Stop taking connections, let requests in flight finish (up to graceMs), dispose every isolate,
 * tell the supervisor, then end without Node's teardown: a process exiting normally after an
 * isolate's memory-limit kill crashed in isolated-vm's native teardown (SIGSEGV) in 5 to 10 of
 * 10 runs here, and still in 4 of 40 after waiting 200 ms. Nothing is left to flush or release
 * once the engine is closed, so SIGKILL is the _exit(2) Node does not offer; the supervisor
 * counts it as a clean exit because it heard "drained" first.
 */
async function drain(graceMs: number): Promise<void> {
  if (draining) return;
  draining = true;
  // Handed-over connections are not the listening server's: wait for them to close too.
  // Live log streams never end by themselves: close them, or they hold the drain to its grace.
  engine?.logs.close();
  await Promise.all([adopted?.drain(graceMs), served?.close(graceMs)]);
  (served?.server as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.();
  await engine?.close();
  // The log is written asynchronously: what it holds (the drain's own 503s among it) goes out
  // before the SIGKILL, which would lose it; a stdout nobody reads gets a second, not forever.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, LOG_FLUSH_MS);
    logger ? logger.flush(() => { clearTimeout(timer); resolve(); }) : resolve();
  });
  if (!process.connected) process.kill(process.pid, 'SIGKILL');
  process.send!({ t: 'drained' } satisfies FromEngine, () => process.kill(process.pid, 'SIGKILL'));
}
