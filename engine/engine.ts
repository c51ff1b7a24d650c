// The engine as a library: deploy functions, invoke them with wire requests or Web Requests.
// It owns the function table and nothing else: sandboxes come from a tier, HTTP from the gateway.
import { totalmem } from 'node:os';
import { bundleEntry, bundleSource, stackMapper } from './bundle/index.ts';
import { BundleError, ConfigError, errorAnswer, IsletError, NoSuchFunctionError, SandboxUnavailableError, TenantExceptionError } from './errors.ts';
import { DEFAULT_LIMITS, MAP_BUDGET_SHARE, MAPPINGS_PER_ISOLATE, MAX_LIVE_ISOLATES, resolveLimits, type Limits } from './limits.ts';
import { mappingCount, maxMapCount, silentLogger, type Logger } from './observe/index.ts';
import { createOutboundFetch, type EgressOptions, type OutboundFetch } from './egress/index.ts';
import { CronTriggers, checkCrons } from './sched/index.ts';
import { IsolateTier } from './tiers/isolate/index.ts';
import type { IsolationTier, Sandbox, SandboxSpec, TenantLog } from './tiers/tier.ts';
import {
  FixedTtlPolicy, Residency, type KeepAlivePolicy, type ResidencyStats, type ResidentSlot, type TemplatePoolOptions,
} from './warm/index.ts';
import { responseFromWire, wireFromRequest, type WireRequest, type WireResponse } from './wire.ts';

export interface FunctionConfig {
  /** Module source (TypeScript or JavaScript) with no imports; or use `entry`. */
  code?: string;
  /** Path of an entry file, bundled with its imports (npm packages included). */
  entry?: string;
  limits?: Partial<Limits>;
  /** Values the handler receives as `env`. */
  env?: Record<string, unknown>;
  /** What the function's fetch() may reach; by default public addresses only. */
  egress?: EgressOptions;
  /** Cron expressions that run the function's scheduled handler. */
  crons?: string[];
}

export interface FunctionInfo {
  name: string;
  limits: Limits;
  env: string[];
  crons: string[];
  entry?: string;
}

export interface DeployOptions {
  /**
   * Boot the function's isolate now, which proves that its code loads (default true). Off, the
   * first request boots it: for re-deploying code that loaded before, as an engine replacing a
   * dead one does, where starting fast matters more.
   */
  boot?: boolean;
}

export interface DeployResult extends FunctionInfo {
  created: boolean;
  /** Source files the bundle was built from (for watching). */
  inputs: string[];
}

export interface EngineOptions {
  logger?: Logger;
  /** Default limits for functions that do not set their own. */
  limits?: Partial<Limits>;
  /** Put tenant stack traces in 500 answers (islet dev). */
  exposeStack?: boolean;
  tier?: IsolationTier;
  /** Boot isolates from a V8 snapshot of the runtime (default true). Ignored with `tier`. */
  snapshot?: boolean;
  /** Blank isolates kept ready for cold starts (default on). Ignored with `tier`. */
  templates?: TemplatePoolOptions | false;
  /** Most live sandboxes at once (default MAX_LIVE_ISOLATES); past it, idle ones are evicted. */
  maxLive?: number;
  /** When idle isolates are unloaded and pre-warmed (default: kept 10 minutes after use). */
  keepAlive?: KeepAlivePolicy;
  /** How often the keep-alive policy is applied, in ms (default 1000). */
  keepAliveSweepMs?: number;
  /**
   * Memory bound for warm isolates: when the process's RSS passes it, each sweep evicts least
   * recently used idle isolates until the estimate is back under (default 75% of the machine's
   * memory; Infinity turns it off).
   */
  maxRssMb?: number;
  /** Reads the process's RSS in bytes (tests give a fake one). */
  readRss?: () => number;
  /** Reads the process's memory-mapping count (tests give a fake one). */
  readMappings?: () => number;
}

/** What the engine has done with isolates since it started. */
export type EngineStats = ResidencyStats;

interface FunctionSlot extends ResidentSlot {
  crons: string[];
  limits: Limits;
  env: Record<string, unknown>;
  entry?: string;
  spec: SandboxSpec;
}

// Function names are DNS labels, because the gateway routes by the first label of Host.
const NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export class Engine {
  readonly logger: Logger;
  readonly exposeStack: boolean;
  readonly defaultLimits: Limits;
  readonly #tier: IsolationTier;
  readonly #functions = new Map<string, FunctionSlot>();
  /** Latest deploy per name, so a slow deploy never overwrites a newer one. */
  readonly #deploySeq = new Map<string, number>();
  readonly #residency: Residency;
  readonly #outbounds = new Map<string, OutboundFetch>();
  readonly #crons = new CronTriggers();
  readonly #sweepTimer: NodeJS.Timeout;

  constructor(options: EngineOptions = {}) {
    this.logger = options.logger ?? silentLogger();
    this.exposeStack = options.exposeStack ?? false;
    this.defaultLimits = resolveLimits(options.limits ?? {}, DEFAULT_LIMITS);
    this.#tier = options.tier ?? new IsolateTier({
      snapshot: options.snapshot,
      templates: options.templates,
      onWarning: (message, fields) => this.logger.warn(fields, message),
    });
    const mapLimit = maxMapCount();
    const mapBudget = mapLimit === undefined ? Infinity : Math.floor(mapLimit * MAP_BUDGET_SHARE);
    const maxLive = options.maxLive ?? Math.min(MAX_LIVE_ISOLATES, Math.floor(mapBudget / MAPPINGS_PER_ISOLATE));
    if (!Number.isInteger(maxLive) || maxLive < 1) throw new ConfigError('maxLive must be a positive integer');
    this.#residency = new Residency({
      maxLive,
      maxRssBytes: (options.maxRssMb ?? (0.75 * totalmem()) / 1048576) * 1048576,
      readRss: options.readRss ?? (() => process.memoryUsage.rss()),
      maxMappings: mapBudget,
      readMappings: options.readMappings ?? mappingCount,
      keepAlive: options.keepAlive ?? new FixedTtlPolicy(),
      logger: this.logger,
      restart: (slot) => this.#restart(slot as FunctionSlot),
    });
    this.#sweepTimer = setInterval(() => this.sweep(), options.keepAliveSweepMs ?? 1000);
    this.#sweepTimer.unref();
  }

  /**
   * Bundles and starts `name`. A first deploy creates it; a redeploy swaps in the new version
   * once it has loaded, while requests in flight finish on the old one. Code that does not
   * bundle or load throws BundleError and leaves the running version untouched.
   */
  async deploy(name: string, config: FunctionConfig, options: DeployOptions = {}): Promise<DeployResult> {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new ConfigError(`function name ${JSON.stringify(name)} must be a DNS label: a-z, 0-9 and '-', at most 63 characters`);
    }
    const limits = resolveLimits(config.limits ?? {}, this.defaultLimits);
    const env = checkEnv(config.env);
    const crons = checkCrons(config.crons);
    if ((config.code === undefined) === (config.entry === undefined)) {
      throw new ConfigError(`function "${name}" needs exactly one of "code" or "entry"`);
    }
    if (config.code !== undefined && typeof config.code !== 'string') throw new ConfigError('"code" must be a string');
    const seq = (this.#deploySeq.get(name) ?? 0) + 1;
    this.#deploySeq.set(name, seq);

    const bundle = config.entry !== undefined ? await bundleEntry(config.entry) : await bundleSource(config.code!, name);
    const spec: SandboxSpec = {
      name,
      code: bundle.code,
      limits,
      env,
      log: this.#tenantLog(name),
      outbound: this.#outbound(config.egress),
      // The isolate names the module file:///<name>.js (see IsolateSandbox.specialise).
      mapStack: bundle.sourceMap ? stackMapper(bundle.sourceMap, `file:///${name}.js`) : undefined,
    };
    const boot = options.boot ?? true;
    if (boot) this.#residency.makeRoom(this.#functions.values());
    const sandbox = boot ? await this.#tier.start(spec) : undefined;
    if (this.#deploySeq.get(name) !== seq) {
      sandbox?.stop();
      throw new ConfigError(`function "${name}" was redeployed while this deploy was loading`);
    }
    const previous = this.#functions.get(name);
    this.#functions.set(name, { name, limits, env, crons, entry: config.entry, spec, sandbox, starting: undefined, lastUseMs: Date.now() });
    this.#crons.set(name, crons, (cron, at) => void this.scheduled(name, cron, at).catch(() => {}));
    if (previous) void this.#retire(previous);
    this.logger.info({ fn: name, limits }, previous ? 'function updated' : 'function deployed');
    return { ...this.#info(this.#functions.get(name)!), created: !previous, inputs: bundle.inputs };
  }

  async undeploy(name: string): Promise<boolean> {
    const slot = this.#functions.get(name);
    if (!slot) return false;
    this.#functions.delete(name);
    this.#residency.forget(name);
    this.#crons.clear(name);
    this.#deploySeq.set(name, (this.#deploySeq.get(name) ?? 0) + 1);
    this.logger.info({ fn: name }, 'function removed');
    await this.#retire(slot);
    return true;
  }

  has(name: string): boolean {
    return this.#functions.has(name);
  }

  list(): FunctionInfo[] {
    return [...this.#functions.values()].map((slot) => this.#info(slot));
  }

  get(name: string): FunctionInfo | undefined {
    const slot = this.#functions.get(name);
    return slot && this.#info(slot);
  }

  limitsOf(name: string): Limits | undefined {
    return this.#functions.get(name)?.limits;
  }

  /** The data path: one request to one function. Rejects with an IsletError on any failure. */
  invoke(name: string, request: WireRequest): Promise<WireResponse> {
    const slot = this.#functions.get(name);
    if (!slot) return Promise.reject(new NoSuchFunctionError(name));
    this.#residency.arrived(slot, Date.now());
    const sandbox = slot.sandbox;
    if (sandbox?.alive) return sandbox.invoke(request);
    return this.#restart(slot).then((s) => s.invoke(request));
  }

  /**
   * Runs `name`'s scheduled handler, as a cron trigger does (and `islet dev --test-scheduled`).
   * Rejects with an IsletError when it throws or hits a limit; the error is logged either way.
   */
  async scheduled(name: string, cron = '', scheduledTime = Date.now()): Promise<void> {
    const slot = this.#functions.get(name);
    if (!slot) throw new NoSuchFunctionError(name);
    this.#residency.arrived(slot, Date.now());
    try {
      const sandbox = slot.sandbox?.alive ? slot.sandbox : await this.#restart(slot);
      await sandbox.scheduled(cron, scheduledTime);
      this.logger.info({ fn: name, cron }, 'scheduled event ran');
    } catch (err) {
      const stack = err instanceof TenantExceptionError ? err.tenantStack : undefined;
      this.logger.error({ fn: name, cron, stack }, `scheduled event failed: ${(err as Error).message}`);
      throw err;
    }
  }

  stats(): EngineStats {
    return { ...this.#residency.stats };
  }

  /** What an operator wants to see at a glance (the admin API's /_islet/status). */
  status(): Record<string, unknown> {
    const memory = process.memoryUsage();
    return {
      functions: this.#functions.size,
      liveIsolates: this.liveCount,
      ...this.stats(),
      rssMb: Math.round(memory.rss / 1048576),
      heapUsedMb: Math.round(memory.heapUsed / 1048576),
      ...this.#tier.status?.(),
    };
  }

  /** Applies the keep-alive policy and the memory bound; runs on a timer, callable with a clock. */
  sweep(now = Date.now()): void {
    this.#residency.sweep(this.#functions.values(), now);
  }

  /** Sandboxes alive or booting now. */
  get liveCount(): number {
    return this.#residency.live(this.#functions.values());
  }

  /**
   * Web-standard entry point: never throws for tenant or limit errors, it answers them the way
   * the gateway does (status, `islet-error` header, JSON body).
   */
  async fetch(name: string, request: Request): Promise<Response> {
    try {
      const limits = this.#functions.get(name)?.limits ?? this.defaultLimits;
      const wire = await wireFromRequest(request, name, limits.maxBodyBytes);
      return responseFromWire(await this.invoke(name, wire));
    } catch (err) {
      return this.errorResponse(err, name);
    }
  }

  errorResponse(err: unknown, name: string | undefined): Response {
    if (err instanceof TenantExceptionError) {
      // In dev the stack is the message, so a terminal shows it as lines, not as an escaped field.
      if (this.exposeStack) this.logger.error({ fn: name }, err.tenantStack);
      else this.logger.error({ fn: name, stack: err.tenantStack }, err.message);
    }
    else if (!(err instanceof IsletError)) this.logger.error({ fn: name, err }, 'internal error');
    const answer = errorAnswer(err, name, this.exposeStack);
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  }

  async close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    this.#crons.close();
    this.#tier.close?.();
    const slots = [...this.#functions.values()];
    this.#functions.clear();
    for (const slot of slots) {
      slot.sandbox?.stop();
      slot.starting?.then((s) => s.stop(), () => {});
    }
  }

  /** A sandbox died (a limit, or memory): the next request boots a fresh one. */
  #restart(slot: FunctionSlot): Promise<Sandbox> {
    if (!slot.starting) {
      try {
        this.#residency.makeRoom(this.#functions.values());
      } catch (err) {
        return Promise.reject(err);
      }
    }
    slot.starting ??= this.#tier.start(slot.spec).then(
      (sandbox) => {
        slot.starting = undefined;
        if (this.#functions.get(slot.name) !== slot) {
          sandbox.stop();
        } else {
          slot.sandbox = sandbox;
        }
        return sandbox;
      },
      (err: unknown) => {
        slot.starting = undefined;
        // Code that loaded at deploy time and fails now is not a bad request from this client.
        if (err instanceof BundleError || !(err instanceof IsletError)) {
          this.logger.error({ fn: slot.name, err }, 'function failed to restart');
          throw new SandboxUnavailableError(`function "${slot.name}" could not be restarted`);
        }
        throw err;
      },
    );
    return slot.starting;
  }

  async #retire(slot: FunctionSlot): Promise<void> {
    await slot.sandbox?.retire();
    await slot.starting?.then((s) => s.stop(), () => {});
  }

  /** One undici agent (connection pool) per distinct egress policy, shared by functions. */
  #outbound(egress: unknown): OutboundFetch {
    const options = checkEgress(egress);
    const key = JSON.stringify(options);
    let outbound = this.#outbounds.get(key);
    if (!outbound) {
      outbound = createOutboundFetch(options);
      this.#outbounds.set(key, outbound);
    }
    return outbound;
  }

  #info(slot: FunctionSlot): FunctionInfo {
    const info: FunctionInfo = { name: slot.name, limits: slot.limits, env: Object.keys(slot.env), crons: slot.crons };
    if (slot.entry) info.entry = slot.entry;
    return info;
  }

  #tenantLog(name: string): TenantLog {
    const log = this.logger.child({ fn: name });
    return {
      console: (level, message) => {
        const method = level === 'error' || level === 'warn' || level === 'debug' ? level : 'info';
        log[method]({ src: 'console' }, message);
      },
      event: (level, message, fields) => log[level](fields ?? {}, message),
    };
  }
}

function checkEgress(egress: unknown): EgressOptions {
  if (egress === undefined) return {};
  if (egress === null || typeof egress !== 'object' || Array.isArray(egress)) throw new ConfigError('"egress" must be an object');
  const { allowPrivate, timeoutMs, maxResponseBytes, ...rest } = egress as Record<string, unknown>;
  if (Object.keys(rest).length) throw new ConfigError(`unknown egress option(s): ${Object.keys(rest).join(', ')}`);
  if (allowPrivate !== undefined && typeof allowPrivate !== 'boolean') throw new ConfigError('egress.allowPrivate must be true or false');
  for (const [key, value] of [['timeoutMs', timeoutMs], ['maxResponseBytes', maxResponseBytes]] as const) {
    if (value !== undefined && (!Number.isInteger(value) || (value as number) < 1)) throw new ConfigError(`egress.${key} must be a positive integer`);
  }
  return {
    ...(allowPrivate !== undefined && { allowPrivate: allowPrivate as boolean }),
    ...(timeoutMs !== undefined && { timeoutMs: timeoutMs as number }),
    ...(maxResponseBytes !== undefined && { maxResponseBytes: maxResponseBytes as number }),
  };
}

function checkEnv(env: unknown): Record<string, unknown> {
  if (env === undefined) return {};
  if (env === null || typeof env !== 'object' || Array.isArray(env)) {
    throw new ConfigError('"env" must be an object of names to values');
  }
  try {
    // env crosses into the isolate by structured copy: JSON-shaped values are what survives.
    return JSON.parse(JSON.stringify(env)) as Record<string, unknown>;
  } catch {
    throw new ConfigError('"env" must hold JSON values');
  }
}
