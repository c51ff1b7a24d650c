// `islet serve`: many functions in one process, routed by Host, managed through /_islet/.
import { Engine, createGateway, createLogger, hostTiers, loadConfig, serveGateway, type ServerConfig } from '../engine/index.ts';
import { containerRuntimeFlag, intFlag, parse } from './args.ts';

export const serveHelp = `Usage: islet serve [options]

Serves many functions in one process. A request goes to the function named by the first label
of its Host header (hello.localhost:8787 → "hello"). Functions come from the config file and
from the admin API (PUT /_islet/functions/<name>, bearer token required).

Options:
  --config <file>       functions and defaults (JSON; see README). Optional.
  --port <n>            port to listen on (default 8787, or the config's "port")
  --host <addr>         address to listen on (default 127.0.0.1, or the config's "host")
  --admin-token <t>     bearer token for the admin API (or ISLET_ADMIN_TOKEN); without it the
                        admin API is disabled
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
    'container-runtime': { type: 'string' },
  }, 'serve');
  if (values.help) {
    console.log(serveHelp);
    return;
  }
  if (positionals.length) throw new (await import('./args.ts')).UsageError(`unexpected argument "${positionals[0]}".\nRun "islet serve --help" for usage.`);
  const config: ServerConfig = values.config ? await loadConfig(values.config as string) : { functions: {} };
  const port = intFlag(values.port as string | undefined, 'port', 0, 65535) ?? config.port ?? 8787;
  const host = (values.host as string | undefined) ?? config.host ?? '127.0.0.1';
  const adminToken = (values['admin-token'] as string | undefined) ?? process.env.ISLET_ADMIN_TOKEN;

  const logger = createLogger();
  const engine = new Engine({
    logger,
    limits: config.limits,
    models: config.models,
    sched: config.sched,
    tiers: hostTiers({ containerRuntime: containerRuntimeFlag(values['container-runtime']) }),
  });
  // A function that fails to load is a config error: refuse to start rather than serve half.
  for (const [name, fn] of Object.entries(config.functions)) await engine.deploy(name, fn);

  const served = await serveGateway(createGateway(engine, { adminToken }), { port, host });
  logger.info({ url: served.url, functions: Object.keys(config.functions), admin: adminToken ? 'enabled' : 'disabled' }, 'islet serve listening');
  console.log(`islet serve: listening at ${served.url}`);
  // SIGTERM/SIGINT: finish the requests in flight (up to 10 s), then exit.
  const stop = async () => {
    logger.info('islet serve stopping: finishing requests in flight');
    engine.logs.close();
    await served.close();
    await engine.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
