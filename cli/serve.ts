// `islet serve`: many functions, routed by Host, managed through /_islet/. By default a
// supervisor owns the socket and runs the engine as a child process it restarts if it dies;
// --in-process serves from this process, unsupervised.
import {
  Engine, ISOLATE_TEARDOWN_SETTLE_MS, Supervisor, createGateway, createLogger, hostTiers, loadConfig, serveGateway, type ContainerRuntime,
  type Logger, type ServerConfig,
} from '../engine/index.ts';
import { containerRuntimeFlag, intFlag, parse, UsageError } from './args.ts';

export const serveHelp = `Usage: islet serve [options]

Serves many functions. A request goes to the function named by the first label of its Host
header (hello.localhost:8787 → "hello"). Functions come from the config file and from the admin
API (PUT /_islet/functions/<name>, bearer token required).

A supervisor process owns the listening socket and runs the engine as a child process; if the
engine dies, a new one starts with every function (admin deploys included) while the socket
stays open, and requests that were in flight on the dead engine answer 502 engine-restarted.

Options:
  --config <file>       functions and defaults (JSON; see README). Optional.
  --port <n>            port to listen on (default 8787, or the config's "port")
  --host <addr>         address to listen on (default 127.0.0.1, or the config's "host")
  --admin-token <t>     bearer token for the admin API (or ISLET_ADMIN_TOKEN); without it the
                        admin API is disabled
  --workers <n>         engine processes (default 1); each function has a home engine, chosen
                        by consistent hashing, and a hot one may spill to a second
  --recycle-rss-mb <n>  replace an engine whose RSS passes n MB with a fresh one, after its
                        requests in flight finish (default: never)
  --proxy               with one engine, have the supervisor forward each request instead of
                        handing connections to the engine (always so with --workers > 1;
                        costs CPU per request, see README)
  --in-process          serve from this process, without a supervisor: nothing restarts a
                        crashed engine
  --container-runtime <r>  what makes the container tier's containers: bubblewrap (default),
                        runc or crun
  -h, --help            show this help

Environment:
  ISLET_ADMIN_TOKEN     the admin token, when --admin-token is not given
  ISLET_LOG_LEVEL       log level: debug, info (default), warn, error or silent

Logs are JSON lines on stdout. SIGTERM or SIGINT finish the requests in flight, then exit.`;

export async function serve(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    config: { type: 'string', short: 'c' },
    port: { type: 'string' },
    host: { type: 'string' },
    'admin-token': { type: 'string' },
    workers: { type: 'string' },
    'recycle-rss-mb': { type: 'string' },
    'in-process': { type: 'boolean' },
    proxy: { type: 'boolean' },
    'container-runtime': { type: 'string' },
  }, 'serve');
  if (values.help) {
    console.log(serveHelp);
    return;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}".\nRun "islet serve --help" for usage.`);
  const config: ServerConfig = values.config ? await loadConfig(values.config as string) : { functions: {} };
  const port = intFlag(values.port as string | undefined, 'port', 0, 65535) ?? config.port ?? 8787;
  const host = (values.host as string | undefined) ?? config.host ?? '127.0.0.1';
  const adminToken = (values['admin-token'] as string | undefined) ?? process.env.ISLET_ADMIN_TOKEN;
  // A token no client can send back as it is (HTTP trims spaces; clients encode non-ASCII their
  // own way) would leave the admin API shut with every call a 401 and no word why.
  if (adminToken !== undefined && !/^[\x21-\x7e]+$/.test(adminToken)) {
    throw new UsageError('--admin-token (or ISLET_ADMIN_TOKEN) must be visible ASCII characters, without spaces');
  }

  const workers = intFlag(values.workers as string | undefined, 'workers', 1, 256);
  const recycleRssMb = intFlag(values['recycle-rss-mb'] as string | undefined, 'recycle-rss-mb', 1, 1 << 20);
  const inProcess = values['in-process'] === true;
  const proxy = values.proxy === true;
  if (inProcess && (workers !== undefined || recycleRssMb !== undefined || proxy)) {
    throw new UsageError('--in-process runs no engine processes: it cannot take --workers, --recycle-rss-mb or --proxy');
  }

  const containerRuntime = containerRuntimeFlag(values['container-runtime']);

  const logger = createLogger();
  const listen = { port, host, adminToken, config, logger, containerRuntime };
  const { url, stop } = inProcess ? await serveInProcess(listen) : await serveSupervised({ ...listen, workers, recycleRssMb, proxy });
  logger.info({ url, functions: Object.keys(config.functions), admin: adminToken ? 'enabled' : 'disabled', workers: inProcess ? 0 : workers ?? 1 }, 'islet serve listening');
  // For a person at a terminal, on stderr: stdout carries only JSON lines, for whatever reads them.
  console.error(`islet serve: listening at ${url}`);
  // SIGTERM/SIGINT: stop accepting, finish the requests in flight (up to drainGraceMs), then exit. A
  // second signal changes nothing: Node's default action would end this process at once and leave
  // its engines running on their own, and the drain is bounded anyway.
  let stopping = false;
  const onSignal = async () => {
    if (stopping) {
      logger.info('islet serve is already stopping: finishing requests in flight');
      return;
    }
    stopping = true;
    logger.info('islet serve stopping: finishing requests in flight');
    process.exit((await stop()) ? 0 : 1);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

interface ServeSetup {
  port: number;
  host: string;
  adminToken?: string;
  config: ServerConfig;
  logger: Logger;
  containerRuntime?: ContainerRuntime;
}

async function serveSupervised(s: ServeSetup & { workers?: number; recycleRssMb?: number; proxy: boolean }) {
  const supervisor = new Supervisor({
    port: s.port, host: s.host, adminToken: s.adminToken, engine: { limits: s.config.limits, models: s.config.models, sched: s.config.sched, cacheMaxMb: s.config.cacheMaxMb, containerRuntime: s.containerRuntime }, functions: s.config.functions,
    workers: s.workers, recycleRssMb: s.recycleRssMb, logger: s.logger, dataPath: s.proxy ? 'proxy' : undefined,
    ...(s.config.drainGraceMs !== undefined && { drainGraceMs: s.config.drainGraceMs }),
    trustProxy: s.config.trustProxy ?? false,
  });
  const url = await supervisor.start();
  return { url, stop: () => supervisor.close() };
}

async function serveInProcess(s: ServeSetup) {
  const engine = new Engine({
    logger: s.logger,
    limits: s.config.limits,
    models: s.config.models,
    sched: s.config.sched,
    cacheMaxMb: s.config.cacheMaxMb,
    tiers: hostTiers({ containerRuntime: s.containerRuntime }),
  });
  // A function that fails to load is a config error: refuse to start rather than serve half.
  for (const [name, fn] of Object.entries(s.config.functions)) await engine.deploy(name, fn);
  const served = await serveGateway(createGateway(engine, { adminToken: s.adminToken, trustProxy: s.config.trustProxy ?? false }), { port: s.port, host: s.host });
  return {
    url: served.url,
    stop: async () => {
      // Live log streams never end by themselves: close them first, or they hold the close to its grace.
      engine.logs.close();
      await served.close(s.config.drainGraceMs);
      await engine.close();
      // Exiting while isolated-vm still tears isolates down can crash the process on its way out.
      await new Promise((r) => setTimeout(r, ISOLATE_TEARDOWN_SETTLE_MS));
      return true;
    },
  };
}
