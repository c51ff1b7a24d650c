// islet.config.json: the functions `islet serve` starts with, plus server defaults.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from './errors.ts';
import { FUNCTION_NAME } from './names.ts';
import type { FunctionConfig } from './engine.ts';
import { checkCacheMaxMb, resolveLimits, type Limits } from './limits.ts';
import { checkCrons, resolveSchedOptions, type SchedOverrides } from './sched/index.ts';
import { checkModels, type ModelConfig } from './accel/index.ts';
import { checkAiBinding, checkServices } from './bindings/index.ts';
import { checkTierFields } from './tiers/index.ts';

export interface ServerConfig {
  port?: number;
  host?: string;
  /** Defaults for every function; each function may override them. */
  limits?: Partial<Limits>;
  /** Engine-wide scheduling: in-flight cap, admission thresholds, quarantine (engine/sched/sched-options.ts). */
  sched?: SchedOverrides;
  functions: Record<string, FunctionConfig>;
  /** Models for the accelerator pool (env.AI); paths are relative to the config file. */
  models?: Record<string, ModelConfig>;
  /** How long SIGTERM lets requests in flight finish before they are answered 503 or cut (default 10 s). */
  drainGraceMs?: number;
  /** Behind a TLS-terminating proxy: request URLs take their scheme from X-Forwarded-Proto. */
  trustProxy?: boolean;
  /** All functions' Cache API storage together, per engine process, in MB (default 512). */
  cacheMaxMb?: number;
}

/**
 * Example:
 * { "port": 8787, "limits": { "cpuMs": 50 },
 *   "functions": { "hello": { "entry": "fixtures/hello/index.ts", "env": { "GREETING": "hi" } } } }
 * Entry paths are relative to the config file.
 */
export async function loadConfig(file: string): Promise<ServerConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(raw, path.dirname(path.resolve(file)), file);
}

export function parseConfig(raw: unknown, baseDir: string, source = 'config'): ServerConfig {
  if (!isObject(raw)) throw new ConfigError(`${source}: must be a JSON object`);
  const { port, host, limits, sched, functions = {}, models, drainGraceMs, trustProxy, cacheMaxMb, ...rest } = raw;
  unknownKeys(rest, source);
  if (port !== undefined && (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535)) {
    throw new ConfigError(`${source}: "port" must be an integer from 0 to 65535`);
  }
  if (host !== undefined && typeof host !== 'string') throw new ConfigError(`${source}: "host" must be a string`);
  if (trustProxy !== undefined && typeof trustProxy !== 'boolean') throw new ConfigError(`${source}: "trustProxy" must be true or false`);
  if (drainGraceMs !== undefined && (!Number.isInteger(drainGraceMs) || (drainGraceMs as number) < 0 || (drainGraceMs as number) > 600_000)) {
    throw new ConfigError(`${source}: "drainGraceMs" must be an integer number of ms from 0 to 600000`);
  }
  if (cacheMaxMb !== undefined) naming(source, () => checkCacheMaxMb(cacheMaxMb));
  if (limits !== undefined) naming(`${source}: "limits"`, () => resolveLimits(limits));
  if (sched !== undefined && !isObject(sched)) throw new ConfigError(`${source}: "sched" must be an object`);
  if (sched !== undefined) naming(`${source}: "sched"`, () => resolveSchedOptions(sched as SchedOverrides));
  if (!isObject(functions)) throw new ConfigError(`${source}: "functions" must be an object of name → {entry, limits, env}`);
  // No prototype: a function named "__proto__" would have set it, and vanished from the list.
  const out = Object.create(null) as Record<string, FunctionConfig>;
  for (const [name, fn] of Object.entries(functions)) {
    const where = `${source}: function "${name}"`;
    // Checked here, naming the file, rather than by the deploy once the server has started.
    if (!FUNCTION_NAME.test(name)) throw new ConfigError(`${where}: a function's name must be a DNS label (a-z, 0-9 and '-', at most 63 characters), as the gateway routes by the first label of Host`);
    if (!isObject(fn)) throw new ConfigError(`${where} must be an object`);
    const { entry, code, limits: fnLimits, env, egress, crons, ai, services, tier, needs, ...extra } = fn;
    unknownKeys(extra, where);
    if (entry !== undefined && typeof entry !== 'string') throw new ConfigError(`${where}: "entry" must be a path`);
    if (code !== undefined && typeof code !== 'string') throw new ConfigError(`${where}: "code" must be a string`);
    if ((entry === undefined) === (code === undefined)) throw new ConfigError(`${where} needs exactly one of "entry" or "code"`);
    if (fnLimits !== undefined) naming(where, () => resolveLimits(fnLimits));
    if (env !== undefined && !isObject(env)) throw new ConfigError(`${where}: "env" must be an object`);
    naming(where, () => checkTierFields(tier, needs));
    // Checked here too, not only by deploy: the error then names the file, as for "limits" (a
    // failed deploy read `function "a": function "a": …`, with no file).
    const aiBinding = checkAiBinding(ai, env ?? {}, where);
    checkServices(services, (binding) => Object.hasOwn(env ?? {}, binding) || binding === aiBinding?.binding, where);
    out[name] = {
      ...(entry !== undefined ? { entry: path.resolve(baseDir, entry) } : { code: code as string }),
      limits: fnLimits as Partial<Limits> | undefined,
      env: env as Record<string, unknown> | undefined,
      ...(egress !== undefined && { egress: egress as FunctionConfig['egress'] }),
      ...(crons !== undefined && { crons: naming(where, () => checkCrons(crons)) }),
      ...(ai !== undefined && { ai: ai as FunctionConfig['ai'] }),
      ...(services !== undefined && { services: services as FunctionConfig['services'] }),
      ...(tier !== undefined && { tier: tier as FunctionConfig['tier'] }),
      ...(needs !== undefined && { needs: needs as FunctionConfig['needs'] }),
    };
  }
  const checkedModels = checkModels(models, `${source}: models`);
  for (const model of Object.values(checkedModels)) if (model.path !== undefined) model.path = path.resolve(baseDir, model.path);
  return {
    port: port as number | undefined, host: host as string | undefined, limits: limits as Partial<Limits> | undefined, functions: out,
    ...(sched !== undefined && { sched: sched as SchedOverrides }),
    ...(models !== undefined && { models: checkedModels }),
    ...(drainGraceMs !== undefined && { drainGraceMs: drainGraceMs as number }),
    ...(trustProxy !== undefined && { trustProxy: trustProxy as boolean }),
    ...(cacheMaxMb !== undefined && { cacheMaxMb: cacheMaxMb as number }),
  };
}

/** Runs a check whose ConfigError should say where in the config it was. */
function naming<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${where}: ${err.message}`);
    throw err;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function unknownKeys(rest: Record<string, unknown>, where: string): void {
  const keys = Object.keys(rest);
  if (keys.length) throw new ConfigError(`${where}: unknown field(s) ${keys.map((k) => JSON.stringify(k)).join(', ')}`);
}
