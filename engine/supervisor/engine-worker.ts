// An engine process under the supervisor: the same Engine and gateway as `islet serve
// --in-process`, on a Unix socket, with its functions handed over the IPC channel so that a
// replacement process starts with everything its predecessor had.
import { Engine } from '../engine.ts';
import { createGateway, serveGateway, type ServedGateway } from '../gateway/index.ts';
import { createLogger } from '../observe/index.ts';
import type { FunctionConfig } from '../engine.ts';
import type { EngineStart, FromEngine, ToEngine } from './protocol.ts';

/** Deploys loaded at once when a batch arrives: bundling and booting overlap, within reason. */
const DEPLOY_CONCURRENCY = 16;

/** Deployed and removed before the supervisor can send any function of its own. */
const WARM_UP = 'islet-warm-up';

const send = (m: FromEngine) => process.send!(m);
let engine: Engine | undefined;
let served: ServedGateway | undefined;
let draining = false;

process.on('message', (m: ToEngine) => {
  if (m.t === 'start') void start(m);
  else if (m.t === 'deploy') void deployAll(m.functions, m.boot).then((errors) => send({ t: 'done', id: m.id, errors }));
  else if (m.t === 'undeploy') void engine!.undeploy(m.name).then(() => send({ t: 'done', id: m.id, errors: {} }));
  else if (m.t === 'drain') void drain(m.graceMs);
});
// The supervisor is gone (it was killed): nobody can reach this process any more.
process.on('disconnect', () => void drain(0));
process.on('SIGTERM', () => void drain(10_000));
process.on('SIGINT', () => {});
send({ t: 'up' });

async function start(m: EngineStart): Promise<void> {
  const logger = createLogger();
  engine = new Engine({ logger, limits: m.limits, maxLive: m.maxLive });
  // Make the runtime snapshot and fill the template pool now, not when the first function
  // arrives: a standby engine is then ready to take over in the time it takes to bundle.
  await engine.deploy(WARM_UP, { code: 'export default { fetch: () => new Response(null) }' });
  await engine.undeploy(WARM_UP);
  served = await serveGateway(createGateway(engine, { adminToken: m.adminToken }), { path: m.socketPath });
  send({ t: 'listening' });
}

async function deployAll(functions: [string, FunctionConfig][], boot: boolean): Promise<Record<string, string>> {
  const errors: Record<string, string> = {};
  let next = 0;
  const lane = async () => {
    while (next < functions.length) {
      const [name, config] = functions[next++]!;
      try {
        await engine!.deploy(name, config, { boot });
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
 * 10 runs here, and still in 4 of 40 after waiting ISOLATE_TEARDOWN_SETTLE_MS. Nothing is left
 * to flush or release once the engine is closed, so SIGKILL is the _exit(2) Node does not offer;
 * the supervisor counts it as a clean exit because it heard "drained" first.
 */
async function drain(graceMs: number): Promise<void> {
  if (draining) return;
  draining = true;
  await served?.close(graceMs);
  await engine?.close();
  if (!process.connected) process.kill(process.pid, 'SIGKILL');
  process.send!({ t: 'drained' } satisfies FromEngine, () => process.kill(process.pid, 'SIGKILL'));
}
