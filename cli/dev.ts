// `islet dev <entry>`: one function on every path, rebuilt and swapped when its sources change.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import {
  BundleError, ConfigError, DEFAULT_LIMITS, Engine, ISOLATE_TEARDOWN_SETTLE_MS, checkTierFields, createGateway, createLogger, hostTiers, serveGateway,
} from '../engine/index.ts';
import { containerRuntimeFlag, intFlag, parse, UsageError } from './args.ts';
import { SourceWatcher } from './watch.ts';

export const devHelp = `Usage: islet dev <entry> [options]

Serves one function, from a TypeScript or JavaScript entry file, on every path. Rebuilds and
swaps it when the entry or anything it imports changes. Tenant stack traces are shown. Its
fetch() may reach localhost and private addresses, as under wrangler dev (islet serve refuses
them unless the function's "egress" allows them).

Options:
  --port <n>         port to listen on (default 8787; 0 picks a free one)
  --host <addr>      address to listen on (default 127.0.0.1)
  --cpu-ms <n>       CPU time per request, in ms (default 50)
  --memory-mb <n>    isolate memory limit, in MB (default 128)
  --tier <t>         isolation tier: isolate (default), process, container, gvisor, microvm
                     or auto (the cheapest that meets --needs)
  --needs <list>     what the function needs, comma-separated (e.g. node-builtins); with no
                     --tier, the cheapest available tier that meets them runs it
  --container-runtime <r>  what makes the container tier's containers: bubblewrap
                     (default), runc or crun
  --test-scheduled   GET /__scheduled?cron=<expr>[&time=<ms>] runs the scheduled handler
                     (time: its scheduledTime, in ms since the epoch; default now)
  --ai <name>        give the function the AI binding as env.<name> (built-in models only)
  --service <NAME=entry>  a service binding (repeatable): env.NAME.fetch() calls the function
                     built from that entry file, served beside it and reloaded with it
  --var <NAME=value> an env variable for the function (repeatable). Variables are also read
                     from .dev.vars in the current folder (NAME=value lines, as wrangler's),
                     or without one from .env and .env.local (as wrangler's, .env.local
                     winning), again at each reload; --var wins over them
  -h, --help         show this help`;

export async function dev(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    port: { type: 'string' },
    host: { type: 'string' },
    'cpu-ms': { type: 'string' },
    'memory-mb': { type: 'string' },
    tier: { type: 'string' },
    needs: { type: 'string' },
    'container-runtime': { type: 'string' },
    'test-scheduled': { type: 'boolean' },
    ai: { type: 'string' },
    service: { type: 'string', multiple: true },
    var: { type: 'string', multiple: true },
  }, 'dev');
  if (values.help) {
    console.log(devHelp);
    return;
  }
  const named = positionals.length === 0 ? wranglerMain() : undefined;
  if (named) {
    // `wrangler dev` finds its entry in the config: said which file to give, rather than only that one is needed.
    const { file, main } = named;
    throw new UsageError(`islet dev needs its entry file: ${file} is not read (its main is ${JSON.stringify(main)}: run islet dev ${main}).\nRun "islet dev --help" for usage.`);
  }
  if (positionals.length !== 1) throw new UsageError('islet dev needs exactly one entry file.\nRun "islet dev --help" for usage.');
  const entry = path.resolve(positionals[0]!);
  const port = intFlag(values.port as string | undefined, 'port', 0, 65535) ?? 8787;
  const host = (values.host as string | undefined) ?? '127.0.0.1';
  const limits = {
    ...(values['cpu-ms'] !== undefined && { cpuMs: intFlag(values['cpu-ms'] as string, 'cpu-ms', 1, 60_000) }),
    ...(values['memory-mb'] !== undefined && { memoryMb: intFlag(values['memory-mb'] as string, 'memory-mb', 8, 16_384) }),
  };

  const tierFields = (() => {
    try {
      const needs = (values.needs as string | undefined)?.split(',').map((n) => n.trim()).filter(Boolean);
      // Needs with no tier: the cheapest tier that meets them, as a bundle error's hint suggests.
      return checkTierFields(values.tier ?? (needs?.length ? 'auto' : undefined), needs);
    } catch (err) {
      throw new UsageError(`--tier/--needs: ${(err as Error).message}`);
    }
  })();

  // A function's console.debug lines show in dev, as in wrangler dev (the engine itself logs
  // nothing at debug); ISLET_LOG_LEVEL still decides when set.
  const logger = createLogger({ pretty: true, level: process.env.ISLET_LOG_LEVEL || 'debug' });
  const engine = new Engine({ logger, exposeStack: true, tiers: hostTiers({ containerRuntime: containerRuntimeFlag(values['container-runtime']) }) });
  const name = functionName(entry);
  const ai = values.ai !== undefined ? { binding: values.ai as string } : undefined;
  const flagVars = varsFromFlags((values.var as string[] | undefined) ?? []);
  const bound = boundFunctions((values.service as string[] | undefined) ?? [], name);
  const services = bound.length ? Object.fromEntries(bound.map((b) => [b.binding, b.name])) : undefined;
  // The functions bound first (the one served calls them), each rebuilt at every reload with it;
  // the inputs watched are all of theirs.
  const deploy = async () => {
    const inputs: string[] = [];
    for (const b of bound) inputs.push(...(await engine.deploy(b.name, { entry: b.entry, limits, egress: DEV_EGRESS, ...tierFields })).inputs);
    const result = await engine.deploy(name, { entry, limits, ai, services, egress: DEV_EGRESS, env: { ...devVars(), ...flagVars }, ...tierFields });
    return { ...result, inputs: [...result.inputs, ...inputs] };
  };

  // Stopping works from the start: a first deploy on the microVM tier takes seconds, and Ctrl-C
  // then must still close the engine, or its QEMU guests outlive the command.
  let served: Awaited<ReturnType<typeof serveGateway>> | undefined;
  let stopping = false;
  const stop = async () => {
    stopping = true;
    watcher.close();
    // Ctrl-C in dev means now: an open stream (an SSE tab) gets half a second, not the drain's 10.
    await served?.close(DEV_STOP_GRACE_MS);
    const wasBuilding = building;
    await engine.close();
    // Exiting while isolated-vm still tears isolates down can crash the process on its way out.
    // An isolate stopped while its module's top level runs goes on until that ends, which its
    // startupCpuMs bounds: exiting sooner segfaulted (a top level busy for 0.8 s, Ctrl-C at once).
    await new Promise((r) => setTimeout(r, ISOLATE_TEARDOWN_SETTLE_MS + (wasBuilding ? DEFAULT_LIMITS.startupCpuMs : 0)));
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  // One build at a time, and the last save always wins: a save during a build (or one whose
  // event came before the build read its file) asks for one more build after it, never for one
  // beside it (two deploys of one function at once refuse the older).
  const varFiles = VAR_FILES.map((file) => path.resolve(file));
  let building = false;
  let again = false;
  // Whether what is served is the stand-in that answers a build error (brokenBuild).
  let servingBroken = false;
  const serveBuildError = async (why: string) => {
    // Its own "function deployed" line would read as the code's success.
    const level = logger.level;
    logger.level = 'warn';
    try {
      await engine.deploy(name, { code: brokenBuild(entry, why) });
      servingBroken = true;
    } finally {
      logger.level = level;
    }
  };
  const build = async (): Promise<{ tier: string; tierReason: string } | BundleError> => {
    const startedAt = Date.now();
    try {
      const result = await deploy();
      // .dev.vars (or .env) is read at each deploy, so a change to it reloads too.
      const inputs = [...result.inputs, ...varFiles];
      watcher.set(inputs);
      if (changedSince(inputs, startedAt)) again = true;
      return result;
    } catch (err) {
      if (!(err instanceof BundleError)) throw err;
      watcher.broken(err.files);
      if (changedSince([...err.files, entry], startedAt)) again = true;
      return err;
    }
  };
  const reload = async () => {
    if (building) {
      again = true;
      return;
    }
    building = true;
    try {
      do {
        again = false;
        const outcome = await build();
        if (stopping) return;
        // Keep serving the last good version, and say so; the developer sees why the new one was
        // refused. With none yet, requests get the newest error.
        if (outcome instanceof BundleError && servingBroken) {
          logger.error(outcome.message);
          await serveBuildError(outcome.message);
        } else if (outcome instanceof BundleError) {
          logger.error(`${outcome.message}\n(still serving the last version that built)`);
        } else {
          servingBroken = false;
          logger.info(`reloaded ${path.relative(process.cwd(), entry)}`);
        }
      } while (again);
    } catch (err) {
      logger.error((err as Error).message);
    } finally {
      building = false;
    }
  };
  const watcher = new SourceWatcher(() => void reload());
  // Watched from before the first build, which can take seconds: a save meanwhile is not lost.
  watcher.set([entry, ...varFiles]);

  // A first build can take a while (a top level awaiting something, up to its wallMs): say so.
  console.log(`islet dev: building ${path.relative(process.cwd(), entry)}…`);
  warnOfWranglerConfig();
  building = true;
  const first = await build().catch(async (err: unknown) => {
    if (stopping) await new Promise(() => {});
    watcher.close();
    await engine.close();
    throw err;
  });
  // Stopped while it built (the build fails as the engine closes): stop() exits once isolates
  // are torn down; exiting sooner, with the error, can crash the process on its way out.
  if (stopping) await new Promise(() => {});
  if (first instanceof BundleError) {
    // No such file is a mistake on the command line; code that does not build yet is what dev
    // is for: it says why, answers every request with it, and reloads once the code is fixed.
    if (!existsSync(entry) || statSync(entry).isDirectory()) {
      watcher.close();
      await engine.close();
      throw new ConfigError(first.message);
    }
    logger.error(first.message);
    // Still under the one-build guard: a save meanwhile waits for it, rather than deploying
    // beside it (the two refused each other, and dev exited).
    await serveBuildError(first.message).catch((err: Error) => logger.error(err.message));
  }
  building = false;
  if (again) void reload();

  served = await serveGateway(createGateway(engine, { function: name, testScheduled: values['test-scheduled'] === true }), { port, host });
  const how = first instanceof BundleError ? '(it does not build yet: every request gets the error until a save fixes it)' : `on the ${first.tier} tier (${first.tierReason})`;
  console.log(`islet dev: serving ${path.relative(process.cwd(), entry)} as "${name}" ${how} at ${served.url}`);
}

/**
 * True when any of `files` was written at or after `since` (ms): a save the build may have missed.
 * A file dated in the future (unpacked from elsewhere) does not count, or it would rebuild for ever.
 */
function changedSince(files: string[], since: number): boolean {
  const now = Date.now();
  return files.some((file) => {
    try {
      const { mtimeMs } = statSync(file);
      return mtimeMs >= since && mtimeMs <= now;
    } catch {
      return false;
    }
  });
}

/**
 * In dev a function may fetch private and loopback addresses, as under wrangler dev: the code is
 * the developer's own, and the API it calls often runs beside it (`fetch('http://localhost:3000')`
 * was refused as "not a public address", with no flag to allow it). `islet serve` still refuses them
 * unless a function's "egress" allows it.
 */
const DEV_EGRESS = { allowPrivate: true };

/** How long `islet dev` lets requests in flight finish when it is stopped. */
const DEV_STOP_GRACE_MS = 500;

const WRANGLER_CONFIGS = ['wrangler.toml', 'wrangler.json', 'wrangler.jsonc'];

/** A stand-in function that answers 500 with why `entry` does not build. */
/** Workers projects keep their vars and entry in wrangler's config, which islet does not read: said once. */
function warnOfWranglerConfig(): void {
  const found = WRANGLER_CONFIGS.find((file) => existsSync(file));
  if (found) console.log(`islet dev: ${found} is not read; give the entry on the command line, vars with --var NAME=value or .dev.vars, limits with --cpu-ms / --memory-mb`);
}

/** The entry a wrangler config in the current folder names (its top-level `main`), if one does. */
function wranglerMain(): { file: string; main: string } | undefined {
  for (const file of WRANGLER_CONFIGS) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    // `main = "src/index.ts"` in TOML (before any [table]), `"main": "src/index.ts"` in JSON(C).
    const main = file.endsWith('.toml') ? /^\s*main\s*=\s*["']([^"']+)["']/m.exec(text.split(/^\s*\[/m)[0]!)?.[1] : /"main"\s*:\s*"([^"]+)"/.exec(text)?.[1];
    if (main) return { file, main };
  }
  return undefined;
}

function brokenBuild(entry: string, why: string): string {
  const text = `islet dev: ${path.relative(process.cwd(), entry)} does not build:\n${why}\n`;
  return `export default { fetch: () => new Response(${JSON.stringify(text)}, { status: 500, headers: { 'islet-error': 'bad-code' } }) }`;
}

/** `--service NAME=entry` flags: each entry becomes a function of its own, named from its file. */
function boundFunctions(flags: string[], served: string): { binding: string; entry: string; name: string }[] {
  return flags.map((flag) => {
    const at = flag.indexOf('=');
    if (at < 1 || at === flag.length - 1) throw new UsageError(`--service takes NAME=entry, got ${JSON.stringify(flag)}`);
    const entry = path.resolve(flag.slice(at + 1));
    const name = functionName(entry);
    if (name === served) throw new UsageError(`--service ${flag}: its function would be named "${name}", as the one served is; rename one of the files`);
    return { binding: flag.slice(0, at), entry, name };
  });
}

/** `--var NAME=value` flags as env entries. */
function varsFromFlags(flags: string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const flag of flags) {
    const at = flag.indexOf('=');
    if (at < 1) throw new UsageError(`--var takes NAME=value, got ${JSON.stringify(flag)}`);
    vars[flag.slice(0, at)] = flag.slice(at + 1);
  }
  return vars;
}

/** The files dev reads variables from: .dev.vars, or without it (as wrangler since 2025) .env and .env.local. */
const VAR_FILES = ['.dev.vars', '.env', '.env.local'];

/**
 * The variables in ./.dev.vars (dotenv syntax, parsed by Node's util.parseEnv), if there is one;
 * if not, those of ./.env and ./.env.local, the latter winning, as wrangler dev reads them (projects
 * scaffolded since keep their secrets in .env only, and got no env here without a word).
 * One that cannot be read (a folder, no permission) is the developer's to fix: at start dev exits
 * saying so, at a reload it keeps serving the last version.
 */
function devVars(): Record<string, string> {
  const present = VAR_FILES.filter((file) => existsSync(path.resolve(file)));
  const read = present[0] === '.dev.vars' ? ['.dev.vars'] : present;
  const vars: Record<string, string> = {};
  for (const file of read) {
    try {
      Object.assign(vars, parseEnv(readFileSync(path.resolve(file), 'utf8')));
    } catch (err) {
      throw new ConfigError(`${file} could not be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): it should be a file of NAME=value lines`);
    }
  }
  return vars;
}

/**
 * fixtures/hello/index.ts → "hello"; src/my_api.ts → "my-api". A project's own entry (index.* in
 * its folder, or in its src/) is named as the project: its package.json's "name" (without an npm
 * scope), or else its folder's. `islet dev src/index.ts`, as a wrangler project has it, named
 * every log line "src".
 */
export function functionName(entry: string): string {
  const stem = path.basename(entry).replace(/\.[^.]+$/, '');
  if (stem !== 'index') return slug(stem) || 'dev';
  const dir = path.basename(path.dirname(entry)) === 'src' ? path.dirname(path.dirname(entry)) : path.dirname(entry);
  return slug(packageName(dir)) || slug(path.basename(dir)) || 'dev';
}

/** `text` as a function's name: lower case, runs of anything else than [a-z0-9-] as one "-". */
function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
}

/** The "name" in `dir`/package.json, without its npm scope ("@acme/api" → "api"); '' when none. */
function packageName(dir: string): string {
  try {
    const { name } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
    return typeof name === 'string' ? name.replace(/^@[^/]*\//, '') : '';
  } catch {
    return '';
  }
}
