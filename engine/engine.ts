// The engine as a library: deploy functions, invoke them with wire requests or Web Requests.
// It owns the function table and nothing else: sandboxes come from a tier, HTTP from the gateway.
import { FUNCTION_NAME } from './names.ts';
import { totalmem } from 'node:os';
import { AccelPool, checkModels, type AccelPoolOptions, type ModelConfig } from './accel/index.ts';
import { aiHost, checkAiBinding, checkServices, withServices, type AiBindingConfig, type ResolvedAiBinding } from './bindings/index.ts';
import { bundleEntry, bundleSource, stackMapper, type TenantBundle } from './bundle/index.ts';
import { CacheStore } from './cache/index.ts';
import { DeployOrder, type PendingDeploy } from './deploy-order.ts';
import {
  BundleError, ConfigError, CpuLimitError, DeploySupersededError, errorAnswer, IsletError, MemoryLimitError, NoRoomError, NoSuchFunctionError,
  SandboxUnavailableError, TenantExceptionError,
} from './errors.ts';
import {
  checkCacheMaxMb, DEFAULT_CACHE_MAX_MB, DEFAULT_LIMITS, IDLE_GC_AFTER_MS, IDLE_GCS_PER_SWEEP, MAP_BUDGET_SHARE, MAPPINGS_PER_ISOLATE, MAX_EGRESS_TIMEOUT_MS, MAX_LIVE_ISOLATES, resolveLimits, type Limits,
} from './limits.ts';
import {
  EngineMetrics, LogTap, mappingCount, maxMapCount, ResourceMonitor, silentLogger, type FunctionGauges, type FunctionMeter, type Logger,
} from './observe/index.ts';
import { createOutboundFetch, createOutboundSocket, type EgressOptions, type OutboundFetch } from './egress/index.ts';
import { CronTriggers, checkCrons, resolveSchedOptions, SchedFunction, Scheduler, type SchedOverrides, type Settled } from './sched/index.ts';
import {
  checkTierFields, chooseTier, hostTiers, IsolateTier, type IsolationTier, type Need, type Sandbox, type SandboxSpec, type TenantLog,
  type TierName, type TierRequest,
} from './tiers/index.ts';
import {
  CodeCache, FixedTtlPolicy, Residency, type KeepAlivePolicy, type ResidencyStats, type ResidentSlot, type TemplatePoolOptions, type CodeCacheOptions,
} from './warm/index.ts';
import { headAnswer, responseFromWire, wireFromRequest, type Lender, type WireRequest, type WireResponse } from './wire.ts';

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
  /** Gives the function env.AI (or the name in `binding`): calls into the accelerator pool. */
  ai?: AiBindingConfig;
  /** Service bindings: env.NAME.fetch() calls the function named, in process ({"AUTH": "auth"}). */
  services?: Record<string, string>;
  /** Which isolation tier runs it (default "isolate"); "auto" picks the cheapest that meets `needs`. */
  tier?: TierRequest;
  /** What the code needs from its sandbox, e.g. ["node-builtins"]. */
  needs?: Need[];
  /**
   * With `entry`: a bundle already made from it (DeployResult.bundle), run instead of bundling the
   * files again when it has the format the tier wants. Not part of the config file or admin API.
   */
  bundle?: TenantBundle;
}

export interface FunctionInfo {
  name: string;
  limits: Limits;
  env: string[];
  crons: string[];
  entry?: string;
  ai?: ResolvedAiBinding;
  services?: Record<string, string>;
  tier: TierName;
  needs: Need[];
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
  /** Why this tier runs the function. */
  tierReason: string;
  created: boolean;
  /** Source files the bundle was built from (for watching). */
  inputs: string[];
  /** The bundle it runs: a supervisor hands an `entry` function's to the engines it starts later. */
  bundle: TenantBundle;
}

/** What deploy() made of a FunctionConfig's fields before it starts loading. */
interface CheckedConfig {
  limits: Limits;
  env: Record<string, unknown>;
  crons: string[];
  ai: ResolvedAiBinding | undefined;
  services: Record<string, string> | undefined;
  fields: ReturnType<typeof checkTierFields>;
  tier: IsolationTier;
  tierReason: string;
}

export interface EngineOptions {
  logger?: Logger;
  /** Default limits for functions that do not set their own. */
  limits?: Partial<Limits>;
  /** Put tenant stack traces in 500 answers (islet dev). */
  exposeStack?: boolean;
  /** The isolate tier to use (tests give a custom one). */
  tier?: IsolationTier;
  /**
   * The other tiers functions may ask for (default: every backend islet has, see tiers/index.ts).
   * The engine owns them: close() closes them, so one tier object serves one engine.
   */
  tiers?: IsolationTier[];
  /** Boot isolates from a V8 snapshot of the runtime (default true). Ignored with `tier`. */
  snapshot?: boolean;
  /** Blank isolates kept ready for cold starts (default on). Ignored with `tier`. */
  templates?: TemplatePoolOptions | false;
  /** V8 code caches of tenant bundles, per bundle (default on, 64 MB). Ignored with `tier`. */
  codeCache?: CodeCacheOptions | false;
  /** Most live sandboxes at once (default MAX_LIVE_ISOLATES); past it, idle ones are evicted. */
  maxLive?: number;
  /** When idle isolates are unloaded and pre-warmed (default: kept 10 minutes after use). */
  keepAlive?: KeepAlivePolicy;
  /** How often the keep-alive policy is applied, in ms (default 1000). */
  keepAliveSweepMs?: number;
  /** A function idle this long has its isolates collect their garbage, once per idle spell (default IDLE_GC_AFTER_MS). */
  idleGcAfterMs?: number;
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
  /** Models the accelerator pool serves besides the built-in ones (the config's "models"). */
  models?: Record<string, ModelConfig>;
  /** Accelerator pool settings; the pool starts with the first function that has an AI binding. */
  accel?: Omit<AccelPoolOptions, 'models' | 'logger'>;
  /** Engine-wide scheduling: in-flight cap, fair queuing, admission thresholds, quarantine. */
  sched?: SchedOverrides;
  /** All functions' Cache API storage together, in MB (default DEFAULT_CACHE_MAX_MB); each function also has its `cacheMb`. */
  cacheMaxMb?: number;
  /**
   * Asked when a service binding names a function this engine does not hold (islet serve
   * --workers: it is on another engine process); resolves once it is deployed here, or false.
   */
  placeService?: (name: string) => Promise<boolean>;
}

/** What the engine has done with isolates since it started. */
export type EngineStats = ResidencyStats;

interface FunctionSlot extends ResidentSlot {
  crons: string[];
  ai?: ResolvedAiBinding;
  services?: Record<string, string>;
  limits: Limits;
  env: Record<string, unknown>;
  entry?: string;
  spec: SandboxSpec;
  tier: IsolationTier;
  needs: Need[];
  /** Its replicas, queue and quarantine record. */
  fn: SchedFunction;
  meter: FunctionMeter;
  /** Its logger (tagged with `fn`), for the request lines. */
  log: Logger;
  /** Accounts for one of its requests (made once per deploy, not per request). */
  served: Settled<WireResponse>;
}

/** The status code a failed request is answered with (as errorAnswer maps it). */
function statusOf(err: unknown): number {
  return err instanceof IsletError ? err.status : 500;
}

/** How many functions /_islet/status details (the ones holding the most isolate heap). */
const STATUS_BUSIEST = 50;

/** Whether `next` is `previous` deployed again: the same code, limits, env and tier. */
function sameDeployment(previous: FunctionSlot, next: FunctionSlot): boolean {
  return previous.spec.codeKey === next.spec.codeKey && previous.tier === next.tier
    && JSON.stringify(previous.limits) === JSON.stringify(next.limits) && JSON.stringify(previous.env) === JSON.stringify(next.env);
}

export class Engine {
  readonly logger: Logger;
  readonly exposeStack: boolean;
  readonly defaultLimits: Limits;
  readonly #tier: IsolationTier;
  /** Every tier, the isolate tier first. */
  readonly #tiers: IsolationTier[];
  readonly #functions = new Map<string, FunctionSlot>();
  /** Latest deploy per name, so a slow deploy never overwrites a newer one. */
  readonly #deploys = new DeployOrder();
  #closed = false;
  readonly #residency: Residency;
  /** Deploys booting their first sandbox: counted against the live isolate cap before any function holds them. */
  #deployBoots = 0;
  readonly #caches: CacheStore;
  readonly #outbounds = new Map<string, OutboundFetch>();
  readonly #crons = new CronTriggers();
  readonly #sweepTimer: NodeJS.Timeout;
  readonly #placeService: EngineOptions['placeService'];
  readonly #sched: Scheduler;
  readonly #monitor = new ResourceMonitor();
  /** Prometheus metrics (GET /_islet/metrics). */
  readonly metrics: EngineMetrics;
  /** Live log lines per function (GET /_islet/functions/:name/logs). */
  readonly logs = new LogTap();
  readonly #accelOptions: AccelPoolOptions;
  #accel: AccelPool | undefined;

  constructor(options: EngineOptions = {}) {
    this.logger = options.logger ?? silentLogger();
    this.#accelOptions = { ...options.accel, models: checkModels(options.models), logger: this.logger.child({ src: 'accel' }) };
    this.exposeStack = options.exposeStack ?? false;
    this.defaultLimits = resolveLimits(options.limits ?? {}, DEFAULT_LIMITS);
    this.#caches = new CacheStore(checkCacheMaxMb(options.cacheMaxMb ?? DEFAULT_CACHE_MAX_MB) * 1048576);
    this.#tier = options.tier ?? new IsolateTier({
      snapshot: options.snapshot,
      templates: options.templates,
      codeCache: options.codeCache,
      onWarning: (message, fields) => this.logger.warn(fields, message),
    });
    this.#tiers = [this.#tier, ...(options.tiers ?? hostTiers())];
    const mapLimit = maxMapCount();
    const mapBudget = mapLimit === undefined ? Infinity : Math.floor(mapLimit * MAP_BUDGET_SHARE);
    const maxLive = options.maxLive ?? Math.min(MAX_LIVE_ISOLATES, Math.floor(mapBudget / MAPPINGS_PER_ISOLATE));
    if (!Number.isInteger(maxLive) || maxLive < 1) throw new ConfigError('maxLive must be a positive integer');
    const readRss = options.readRss ?? (() => process.memoryUsage.rss());
    this.#sched = new Scheduler(resolveSchedOptions(options.sched), {
      boot: (fn) => this.#boot(fn),
      readRss,
      onShed: (fn, reason) => {
        const meter = this.#functions.get(fn.name)?.meter;
        if (meter) meter.shed[reason] = (meter.shed[reason] ?? 0) + 1;
      },
      onLimitKill: (fn, limit) => {
        const meter = this.#functions.get(fn.name)?.meter;
        if (meter) meter.limitKills[limit]++;
      },
      onQuarantine: (fn, periodMs) => this.logger.warn({ fn: fn.name, periodMs }, 'function quarantined: it keeps hitting its limits'),
    });
    this.metrics = new EngineMetrics({
      isolatesAlive: () => this.liveCount,
      eventLoopLagSeconds: () => this.#sched.eventLoopLagMs / 1000,
      functions: () => this.#gauges(),
      sandboxProcesses: () => this.#sandboxProcesses(),
      models: () => this.#accel?.gauges() ?? [],
    });
    this.#residency = new Residency({
      maxLive,
      maxRssBytes: (options.maxRssMb ?? (0.75 * totalmem()) / 1048576) * 1048576,
      readRss,
      maxMappings: mapBudget,
      readMappings: options.readMappings ?? mappingCount,
      keepAlive: options.keepAlive ?? new FixedTtlPolicy(),
      idleGcAfterMs: options.idleGcAfterMs ?? IDLE_GC_AFTER_MS,
      idleGcsPerSweep: IDLE_GCS_PER_SWEEP,
      logger: this.logger,
      prewarm: (slot) => this.#sched.warm((slot as FunctionSlot).fn),
    });
    this.#placeService = options.placeService;
    this.#sweepTimer = setInterval(() => this.sweep(), options.keepAliveSweepMs ?? 1000);
    this.#sweepTimer.unref();
  }

  /**
   * Bundles and starts `name`. A first deploy creates it; a redeploy swaps in the new version
   * once it has loaded, while requests in flight finish on the old one. Code that does not
   * bundle or load throws BundleError and leaves the running version untouched.
   */
  async deploy(name: string, config: FunctionConfig, options: DeployOptions = {}): Promise<DeployResult> {
    if (this.#closed) throw new ConfigError('the engine is closed: it takes no more deploys');
    if (typeof name !== 'string' || !FUNCTION_NAME.test(name)) {
      throw new ConfigError(`function name ${JSON.stringify(name)} must be a DNS label: a-z, 0-9 and '-', at most 63 characters`);
    }
    const limits = resolveLimits(config.limits ?? {}, this.defaultLimits);
    const env = checkEnv(config.env);
    const crons = checkCrons(config.crons);
    const ai = checkAiBinding(config.ai, env, `function "${name}"`);
    const services = checkServices(config.services, (binding) => Object.hasOwn(env, binding) || binding === ai?.binding, `function "${name}"`);
    if ((config.code === undefined) === (config.entry === undefined)) {
      throw new ConfigError(`function "${name}" needs exactly one of "code" or "entry"`);
    }
    if (config.code !== undefined && typeof config.code !== 'string') throw new ConfigError('"code" must be a string');
    const fields = checkTierFields(config.tier, config.needs);
    const { tier, reason: tierReason } = chooseTier(fields.tier, fields.needs, this.#tiers);
    const pending = this.#deploys.start(name);
    try {
      return await this.#deploy(name, config, options, pending, { limits, env, crons, ai, services, fields, tier, tierReason });
    } catch (err) {
      this.#deploys.failed(name, pending);
      throw err;
    }
  }

  /** The rest of deploy(), with `config` checked: bundle, boot, and take effect unless superseded. */
  async #deploy(name: string, config: FunctionConfig, options: DeployOptions, pending: PendingDeploy, checked: CheckedConfig): Promise<DeployResult> {
    const { limits, env, crons, ai, services, fields, tier, tierReason } = checked;

    const nodeBuiltins = tier.capabilities.accepts.includes('node-builtins');
    const packagesAtRunTime = fields.needs.includes('native');
    if (packagesAtRunTime && config.entry === undefined) {
      throw new ConfigError(`function "${name}" needs native: deploy it as an "entry" whose packages are installed beside it (native addons are loaded from there at run time)`);
    }
    const bundleOptions = { nodeBuiltins, packagesAtRunTime, format: tier.capabilities.bundleFormat };
    // A bundle made from `entry` before (by this engine or another, handed over by the supervisor)
    // is used as it is: the files on disk may have changed since it was deployed.
    const bundle = config.bundle && config.bundle.format === (tier.capabilities.bundleFormat ?? 'module') ? config.bundle
      : config.entry !== undefined ? await bundleEntry(config.entry, bundleOptions) : await bundleSource(config.code!, name, bundleOptions);
    const onEnded = (reason: IsletError) => {
      const slot = this.#functions.get(name);
      if (slot?.spec.onEnded === onEnded) this.#sched.noteEnded(slot.fn, reason);
    };
    const network = this.#outbound(config.egress);
    const bundled: SandboxSpec = {
      name,
      onEnded,
      onRoom: this.#roomFreed,
      code: bundle.code,
      format: bundle.format,
      ...(bundle.packageRoot && { packageRoot: bundle.packageRoot }),
      codeKey: CodeCache.key(bundle.code),
      limits,
      env,
      log: this.#tenantLog(name),
      // Subrequests: service bindings to the functions they name, the rest to the network.
      outbound: services ? withServices(network, services, (target, request, depth, lender, deadline) => this.#callService(target, request, depth, lender, deadline)) : network,
      ...(services && { services: Object.keys(services) }),
      // The isolate names the bundle file:///<name>.js (see IsolateSandbox.specialise).
      mapStack: bundle.sourceMap ? stackMapper(bundle.sourceMap, `file:///${name}.js`) : undefined,
      ...(ai && { ai: aiHost(name, ai, this.#accelPool(), limits.wallMs) }),
      // Kept across redeploys of the function (a new version reads what the old one cached).
      cache: () => this.#caches.get(name),
    };
    const spec = (await tier.prepare?.(bundled)) ?? bundled;
    const boot = options.boot ?? true;
    // A deploy boots its function once, to prove it loads. Where the live isolate cap has no room
    // (every isolate under it busy or booting, as with many deploys at once), the isolate is
    // stopped once it has loaded: the function boots again on its first request.
    let keep = boot;
    if (boot) {
      try {
        this.#residency.makeRoom(() => this.#functions.values(), this.#deployBoots);
      } catch (err) {
        if (!(err instanceof NoRoomError)) throw err;
        keep = false;
      }
    }
    let sandbox: Sandbox | undefined;
    try {
      if (boot) this.#deployBoots++;
      sandbox = boot ? await tier.start(spec).finally(() => this.#deployBoots--) : undefined;
      if (!keep) {
        sandbox?.stop();
        sandbox = undefined;
      }
      await this.#deploys.laterSettled(name, pending);
      // Closed meanwhile: nothing would sweep or stop what this deploy started.
      if (this.#closed) throw new ConfigError('the engine closed while this deploy was loading');
      if (!this.#deploys.decides(name, pending)) {
        throw new DeploySupersededError(`function "${name}" was deployed again while this deploy was loading; the later deploy decides`);
      }
    } catch (err) {
      sandbox?.stop();
      throw err;
    }
    this.#deploys.tookEffect(name, pending);
    this.#caches.configure(name, limits.cacheMb * 1048576);
    const previous = this.#functions.get(name);
    const fn = this.#sched.add(name, limits);
    if (sandbox) fn.replicas.add(sandbox);
    const slot: FunctionSlot = {
      name, limits, env, crons, ai, services, entry: config.entry, spec, tier, needs: fields.needs, fn, replicas: fn.replicas, lastUseMs: Date.now(),
      meter: this.metrics.meter(name), log: this.logger.child({ fn: name }),
      served: (response, err, started) => this.#served(slot, response, err, started),
      get waiting() {
        return fn.queue.length;
      },
    };
    this.#functions.set(name, slot);
    this.#crons.set(name, crons, (cron, at) => void this.scheduled(name, cron, at).catch(() => {}));
    if (previous) {
      // The same function deployed again stays on the record it earned (its quarantine included);
      // new code, limits, env or tier start afresh, as a fix should.
      this.#sched.replace(previous.fn, fn, sameDeployment(previous, slot));
      void this.#retire(previous);
    }
    this.logger.info({ fn: name, limits, tier: tier.name, tierReason }, previous ? 'function updated' : 'function deployed');
    return { ...this.#info(this.#functions.get(name)!), tierReason, created: !previous, inputs: bundle.inputs, bundle };
  }

  async undeploy(name: string): Promise<boolean> {
    const slot = this.#functions.get(name);
    if (!slot) return false;
    this.#functions.delete(name);
    this.#residency.forget(name);
    this.#crons.clear(name);
    this.#caches.drop(name);
    this.#sched.remove(slot.fn, new NoSuchFunctionError(name));
    this.metrics.drop(name);
    this.#deploys.removed(name);
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
    // A quarantined function's request is refused before it could boot anything: no cold start.
    if (!this.#sched.quarantined(slot.fn) && this.#residency.arrived(slot, Date.now())) slot.meter.coldStarts++;
    // Its log line names the request: a closure of its own only when a line will be written.
    const served: Settled<WireResponse> = slot.log.isLevelEnabled('info') || this.logs.following(name)
      ? (response, err, started) => this.#served(slot, response, err, started, request)
      : slot.served;
    return this.#sched.submit(slot.fn, (sandbox) => sandbox.invoke(request), served, request.signal, request.depth ?? 0, request.lender);
  }

  /**
   * A request's metrics and its log line (and the same line to anyone tailing the function): its
   * method and path (not the query, which may carry a token), status, wall time and CPU.
   */
  #served(slot: FunctionSlot, response: WireResponse | undefined, err: unknown, started: number, request?: WireRequest): void {
    const status = response ? response.status : statusOf(err);
    const cpuNs = response?.cpuNs;
    const ms = performance.now() - started;
    slot.meter.served(status, ms / 1000);
    const logged = slot.log.isLevelEnabled('info');
    if (!logged && !this.logs.following(slot.name)) return;
    const fields = {
      // A method is a short token; one that is not (through a service binding) is cut like a path.
      ...(request && { method: request.method.length > 32 ? `${request.method.slice(0, 32)}…` : request.method, path: pathOf(request.url) }),
      status, ms: Math.round(ms * 100) / 100, cpuMs: cpuNs === undefined ? null : Math.round(cpuNs / 1e4) / 100,
    };
    if (logged) slot.log.info(fields, 'request');
    if (this.logs.following(slot.name)) this.logs.publish({ time: Date.now(), level: 'info', fn: slot.name, msg: 'request', ...fields });
  }

  /**
   * Runs `name`'s scheduled handler, as a cron trigger does (and `islet dev --test-scheduled`).
   * Rejects with an IsletError when it throws or hits a limit; the error is logged either way.
   */
  async scheduled(name: string, cron = '', scheduledTime = Date.now()): Promise<void> {
    const slot = this.#functions.get(name);
    if (!slot) throw new NoSuchFunctionError(name);
    if (!this.#sched.quarantined(slot.fn) && this.#residency.arrived(slot, Date.now())) slot.meter.coldStarts++;
    try {
      await this.#sched.submit(slot.fn, (sandbox) => sandbox.scheduled(cron, scheduledTime));
      this.logger.info({ fn: name, cron }, 'scheduled event ran');
    } catch (err) {
      const stack = err instanceof TenantExceptionError ? err.tenantStack : undefined;
      const msg = `scheduled event failed: ${(err as Error).message}`;
      // In dev the stack is the message, as for a request's exception (errorResponse).
      if (this.exposeStack && stack !== undefined) this.logger.error({ fn: name, cron }, `scheduled event failed: ${stack}`);
      else this.logger.error({ fn: name, cron, stack }, msg);
      if (this.logs.following(name)) this.logs.publish({ time: Date.now(), level: 'error', fn: name, msg, cron, ...(stack !== undefined && { stack }) });
      throw err;
    }
  }

  stats(): EngineStats {
    return { ...this.#residency.stats };
  }

  /** What an operator wants to see at a glance (the admin API's /_islet/status). */
  status(): Record<string, unknown> {
    const memory = process.memoryUsage();
    const mb = (bytes: number) => Math.round(bytes / 1048576);
    return {
      functions: this.#functions.size,
      liveIsolates: this.liveCount,
      ...this.stats(),
      rssMb: mb(memory.rss),
      heapUsedMb: mb(memory.heapUsed),
      ...this.#tier.status?.(),
      scheduler: { inFlight: this.#sched.inFlight, eventLoopLagMs: Math.round(this.#sched.eventLoopLagMs), shedding: this.#sched.pressure ?? null },
      process: this.#monitor.engine ? { cpuPercent: this.#monitor.engine.cpuPercent, rssMb: mb(this.#monitor.engine.rssBytes) } : null,
      busiest: this.#busiest(STATUS_BUSIEST),
      accel: this.#accel?.status() ?? { state: 'off', reason: 'no function has an AI binding yet' },
      cache: { usedMb: Math.round(this.#caches.bytes / 1048576 * 10) / 10, maxMb: this.#caches.maxBytes / 1048576 },
      tiers: Object.fromEntries(this.#tiers.slice(1).map((t) => [t.name, t.status?.() ?? { available: !t.unavailable() }])),
    };
  }

  /** The functions holding the most isolate heap, with their replicas' heap and CPU. */
  #busiest(count: number): Record<string, unknown>[] {
    const now = performance.now();
    const rows = [];
    for (const slot of this.#functions.values()) {
      const { fn } = slot;
      const replicas = fn.replicas.all;
      if (replicas.length === 0 && fn.load === 0 && fn.quarantine.until <= now) continue;
      const isolates = replicas.map((r) => {
        const usage = r.sandbox.usage?.();
        return { inFlight: r.sandbox.inFlight, heapMb: usage ? Math.round(usage.heapBytes / 10485.76) / 100 : null, cpuMs: usage ? Math.round(usage.cpuNs / 1e6) : null };
      });
      rows.push({
        name: slot.name, inFlight: fn.inFlight, queued: fn.queue.length, isolates,
        quarantinedForMs: fn.quarantine.until > now ? Math.round(fn.quarantine.until - now) : 0,
        heap: isolates.reduce((sum, i) => sum + (i.heapMb ?? 0), 0),
      });
    }
    return rows.sort((a, b) => b.heap - a.heap).slice(0, count).map(({ heap: _heap, ...row }) => row);
  }

  *#gauges(): Iterable<FunctionGauges> {
    for (const slot of this.#functions.values()) {
      const { replicas } = slot.fn;
      yield {
        name: slot.name, cpuNs: replicas.cpuNs(), heapBytes: replicas.heapBytes(), queueLength: slot.fn.queue.length, replicas: replicas.all.length,
        webSockets: replicas.held, cacheBytes: this.#caches.get(slot.name)?.bytes ?? 0,
      };
    }
  }

  *#sandboxProcesses(): Iterable<{ fn: string; pid: number; cpuPercent: number; rssBytes: number }> {
    for (const slot of this.#functions.values()) {
      for (const { sandbox } of slot.fn.replicas.all) {
        const usage = sandbox.pid === undefined ? undefined : this.#monitor.sandboxes.get(sandbox.pid);
        if (usage) yield { fn: slot.name, pid: sandbox.pid!, ...usage };
      }
    }
  }

  /** Applies the keep-alive policy and the memory bound; runs on a timer, callable with a clock. */
  sweep(now = Date.now()): void {
    this.#residency.sweep(this.#functions.values(), now);
    void this.#monitor.sample(this.#sandboxPids()).catch((err: unknown) => this.logger.warn({ err }, 'resource sampling failed'));
  }

  *#sandboxPids(): Iterable<number> {
    for (const slot of this.#functions.values()) for (const { sandbox } of slot.fn.replicas.all) if (sandbox.pid !== undefined) yield sandbox.pid;
  }

  /** Sandboxes alive or booting now. */
  get liveCount(): number {
    return this.#residency.live(this.#functions.values());
  }

  /**
   * Web-standard entry point: never throws for tenant or limit errors, it answers them the way
   * the gateway does (status, `islet-error` header, JSON body).
   */
  fetch(name: string, request: Request): Promise<Response> {
    return this.#fetch(name, request, 0);
  }

  /** fetch(), for a request `depth` service-binding calls deep (0: from a client), `lender` lending it a place. */
  async #fetch(name: string, request: Request, depth: number, lender?: Lender, deadline?: number): Promise<Response> {
    try {
      const limits = this.#functions.get(name)?.limits ?? this.defaultLimits;
      const wire = await wireFromRequest(request, name, limits.maxBodyBytes);
      if (depth > 0) {
        wire.depth = depth;
        wire.lender = lender;
        wire.deadline = deadline;
      }
      const answer = await this.invoke(name, wire);
      if (answer.webSocket) {
        // A Web Response cannot carry the socket: the handshake needs the gateway's server.
        answer.webSocket.closed(1006, 'the request did not come through the gateway');
        throw new TenantExceptionError(name, 'TypeError', 'the function answered with a WebSocket, which only the gateway\'s server (serveGateway) can complete; Engine.fetch cannot', '');
      }
      // HEAD: GET's status and headers, no body (a streamed one stops being produced), and the
      // length GET's body would have, where it is known.
      if (wire.method === 'HEAD') headAnswer(answer);
      return responseFromWire(answer);
    } catch (err) {
      return this.errorResponse(err, name);
    }
  }

  /** A service binding's call: in this engine, after asking for the function to be placed here if it is not. */
  async #callService(target: string, request: Request, depth: number, lender?: Lender, deadline?: number): Promise<Response> {
    if (!this.#functions.has(target) && this.#placeService) await this.#placeService(target).catch(() => false);
    return this.#fetch(target, request, depth, lender, deadline);
  }

  errorResponse(err: unknown, name: string | undefined): Response {
    if (err instanceof TenantExceptionError) {
      // In dev the stack is the message, so a terminal shows it as lines, not as an escaped field.
      if (this.exposeStack) this.logger.error({ fn: name }, err.tenantStack);
      else this.logger.error({ fn: name, stack: err.tenantStack }, err.message);
      // Its owner follows its logs (islet tail) to see why it answered 500.
      if (name !== undefined && this.logs.following(name)) {
        this.logs.publish({ time: Date.now(), level: 'error', fn: name, msg: err.message, stack: err.tenantStack });
      }
    }
    else if (!(err instanceof IsletError)) this.logger.error({ fn: name, err }, 'internal error');
    const answer = errorAnswer(err, name, this.exposeStack);
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  }

  /**
   * Stops at once: requests in flight answer 503 (there is no drain here; islet serve drains
   * before it calls this), and the engine takes no more deploys.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    this.#crons.close();
    this.#sched.close(new SandboxUnavailableError('the engine is shutting down'));
    this.#monitor.close();
    const slots = [...this.#functions.values()];
    this.#functions.clear();
    for (const slot of slots) for (const sandbox of slot.replicas.clear()) sandbox.stop();
    // Process-based tiers wait here until their sandboxes' cgroups and runtime state are gone.
    await Promise.all(this.#tiers.map((tier) => tier.close?.()));
    await this.#accel?.close();
  }

  /** The accelerator pool, started the first time a function needs it (its workers cost memory). */
  #accelPool(): AccelPool {
    this.#accel ??= new AccelPool(this.#accelOptions);
    return this.#accel;
  }

  #roomFreed = (): void => this.#sched.roomFreed();

  /** Boots one more replica of a function: on a cold start, a scale-out or a pre-warm. */
  #boot(fn: SchedFunction): Promise<Sandbox> {
    const slot = this.#functions.get(fn.name);
    if (!slot || slot.fn !== fn) return Promise.reject(new NoSuchFunctionError(fn.name));
    try {
      this.#residency.makeRoom(() => this.#functions.values(), this.#deployBoots);
    } catch (err) {
      return Promise.reject(err);
    }
    return slot.tier.start(slot.spec).catch((err: unknown) => {
      // A top level that runs into a limit as it restarts (code that spins or fills memory once
      // it is evicted, say) is the tenant's doing, as in a request: the client gets the limit's
      // answer, and the function a strike toward quarantine, rather than a restart each request.
      if (err instanceof BundleError && err.limit === 'cpu') throw new CpuLimitError(fn.name, slot.limits.startupCpuMs, err.message);
      if (err instanceof BundleError && err.limit === 'memory') throw new MemoryLimitError(fn.name, slot.limits.memoryMb, err.message);
      // Code that loaded at deploy time and fails now is not a bad request from this client.
      if (err instanceof BundleError || !(err instanceof IsletError)) {
        this.logger.error({ fn: fn.name, err }, 'function failed to restart');
        throw new SandboxUnavailableError(`function "${fn.name}" could not be restarted`);
      }
      throw err;
    });
  }

  /** Lets a replaced or removed version's requests in flight finish, then releases its isolates. */
  async #retire(slot: FunctionSlot): Promise<void> {
    await Promise.all(slot.replicas.clear().map((sandbox) => sandbox.retire()));
  }

  /** One undici agent (connection pool) per distinct egress policy, shared by functions. */
  #outbound(egress: unknown): OutboundFetch {
    const options = checkEgress(egress);
    const key = JSON.stringify(options);
    let outbound = this.#outbounds.get(key);
    if (!outbound) {
      outbound = createOutboundFetch(options);
      // Its WebSockets (fetch with Upgrade, new WebSocket) under the same policy.
      outbound.connectSocket = createOutboundSocket(options);
      this.#outbounds.set(key, outbound);
    }
    return outbound;
  }

  #info(slot: FunctionSlot): FunctionInfo {
    const info: FunctionInfo = { name: slot.name, limits: slot.limits, env: Object.keys(slot.env), crons: slot.crons, tier: slot.tier.name, needs: slot.needs };
    if (slot.entry) info.entry = slot.entry;
    if (slot.ai) info.ai = slot.ai;
    if (slot.services) info.services = slot.services;
    return info;
  }

  #tenantLog(name: string): TenantLog {
    const log = this.logger.child({ fn: name });
    return {
      console: (level, message) => {
        const method = level === 'error' || level === 'warn' || level === 'debug' ? level : 'info';
        log[method]({ src: 'console' }, message);
        if (this.logs.following(name)) this.logs.publish({ time: Date.now(), level: method, fn: name, msg: message, src: 'console' });
      },
      event: (level, message, fields) => {
        log[level](fields ?? {}, message);
        if (this.logs.following(name)) this.logs.publish({ time: Date.now(), level, fn: name, msg: message, ...fields });
      },
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
    if (value !== undefined && (!Number.isSafeInteger(value) || (value as number) < 1)) throw new ConfigError(`egress.${key} must be a positive integer`);
  }
  // Past the longest a request may run, a timer would also overflow (Node clamps it to 1 ms).
  if (timeoutMs !== undefined && (timeoutMs as number) > MAX_EGRESS_TIMEOUT_MS) {
    throw new ConfigError(`egress.timeoutMs must be at most ${MAX_EGRESS_TIMEOUT_MS} (the longest wallMs), got ${timeoutMs}`);
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
  const names = Object.keys(env).length;
  if (names > MAX_ENV_NAMES) throw new ConfigError(`"env" has ${names} names; a function may have at most ${MAX_ENV_NAMES}`);
  let json: string;
  try {
    // env crosses into the isolate by structured copy: JSON-shaped values are what survives.
    json = JSON.stringify(env);
  } catch {
    throw new ConfigError('"env" must hold JSON values');
  }
  // Copying env (here, and into each isolate that boots) holds the event loop: a probe's 25 MB of
  // 1.5 million names stalled every tenant's requests for seconds, and had them shed.
  if (json.length > MAX_ENV_JSON_CHARS) throw new ConfigError(`"env" is ${json.length} characters as JSON; at most ${MAX_ENV_JSON_CHARS} (1 MB)`);
  return JSON.parse(json) as Record<string, unknown>;
}

/** env's bounds: Workers allow 128 variables of 5 KB each (and as many secrets); these leave room. */
const MAX_ENV_NAMES = 1_024;
const MAX_ENV_JSON_CHARS = 1_048_576;

/**
 * The path of an absolute URL, without its query or fragment: 'http://h:1/a/b?c' → '/a/b'; at
 * most 1,024 characters of it, so that a request's log line stays a line (a 4 MB path, through a
 * service binding, made one of 4 MB).
 */
function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start < 0) return '/';
  const head = url.slice(start, start + MAX_LOGGED_PATH + 1);
  const end = head.search(/[?#]/);
  const path = end < 0 ? head : head.slice(0, end);
  return path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}…` : path;
}

const MAX_LOGGED_PATH = 1024;
