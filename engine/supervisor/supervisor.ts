// The supervisor behind `islet serve`: it owns the listening socket and runs the engines as child
// processes, routes each request to its function's engine, keeps every deployment so that an
// engine that dies is replaced with all its functions, and recycles engines that grow too big.
// The socket never closes while engines come and go: requests wait for a replacement instead.
import { mkdtempSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FunctionConfig } from '../engine.ts';
import { ConfigError, EngineRestartedError, IsletError, SandboxUnavailableError, errorAnswer } from '../errors.ts';
import { functionForTarget, isAdminTarget, listenError, refuseConnect, refuseUnparsable } from '../gateway/index.ts';
import { silentLogger, type Logger } from '../observe/index.ts';
import { EngineProcess, type EngineEvents } from './engine-process.ts';
import type { SupervisorInfo } from './cluster-status.ts';
import { Handoff } from './handoff.ts';
import { FunctionTable } from './function-table.ts';
import { HashRing } from './hash-ring.ts';
import { AdminFront } from './admin-front.ts';
import { forward } from './proxy.ts';
import { SUPERVISOR_DEFAULTS, type SupervisorOptions } from './options.ts';

/**
 * How long an engine has to answer a ping after a connection to it broke, before it is killed
 * as dead or stuck. Generous: killing a live engine loses every request in flight on it.
 */
const ENGINE_CHECK_MS = 3_000;

/** How often every engine is asked whether it is alive, besides when a connection to it breaks. */
const HEARTBEAT_MS = 2_000;

/** How long a spill waits for log followers to start following the function on its new engine. */
const PLACEMENT_HOOK_MS = 2_000;

/** One place on the hash ring: the engine serving it now, and the one replacing it, if any. */
interface Slot {
  index: number;
  engine?: EngineProcess;
  replacing?: Promise<EngineProcess>;
  /** Requests waiting for this slot to have a serving engine again. */
  waiters: ((engine: EngineProcess | Error) => void)[];
  /** Crashes in a row of engines that died soon after starting, for backing off. */
  quickCrashes: number;
}

export interface SupervisorStats {
  restarts: number;
  recycles: number;
  /** Error answers the supervisor wrote itself (no engine counted them), by islet-error code. */
  answers: Record<string, number>;
}

/** With handoff, the engines serve /_islet/metrics: they hear of new answer counts at most this often. */
const ANSWERS_PUSH_MS = 1_000;

/** How long after a standby engine died before another is started. */
const STANDBY_RETRY_MS = 1_000;

/** Recycling's backoff when fresh engines start over the threshold: the first wait, and the longest. */
const RECYCLE_BACKOFF_FIRST_MS = 1_000;
const RECYCLE_BACKOFF_MAX_MS = 300_000;

export class Supervisor {
  readonly logger: Logger;
  readonly workers: number;
  readonly ring: HashRing;
  readonly table: FunctionTable;
  readonly stats: SupervisorStats = { restarts: 0, recycles: 0, answers: Object.create(null) as Record<string, number> };
  #answersPush: NodeJS.Timeout | undefined;
  readonly #options: Required<Omit<SupervisorOptions, 'logger' | 'functions' | 'adminToken' | 'engine' | 'dataPath' | 'trustProxy'>> & SupervisorOptions;
  readonly #slots: Slot[];
  /** Requests in flight per slot, the load the ring bounds. */
  readonly #load: Int32Array;
  /** Per function, the slots it is deployed on beyond its home (where it spilled). */
  readonly #spilled = new Map<string, Set<number>>();
  readonly #spilling = new Set<string>();
  /** Service-binding placements under way, by "function@slot". */
  readonly #besides = new Map<string, Promise<boolean>>();
  readonly #placementHooks = new Set<(name: string, slot: number) => Promise<void>>();
  /** Engines being asked whether they are alive after a connection to them broke. */
  readonly #checking = new WeakSet<EngineProcess>();
  readonly #admin: AdminFront;
  readonly #dir: string;
  #server?: http.Server | net.Server;
  readonly #handoff?: Handoff;
  #generation = 0;
  #closing = false;
  #standby?: EngineProcess;
  #rssTimer?: NodeJS.Timeout;
  #heartbeatTimer?: NodeJS.Timeout;

  constructor(options: SupervisorOptions) {
    // An option given as undefined takes its default.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.#options = { ...SUPERVISOR_DEFAULTS, ...given };
    this.#options.dataPath ??= this.#options.workers === 1 ? 'handoff' : 'proxy';
    this.logger = options.logger ?? silentLogger();
    this.workers = this.#options.workers;
    if (!Number.isInteger(this.workers) || this.workers < 1 || this.workers > 256) throw new ConfigError('workers must be an integer from 1 to 256');
    this.ring = new HashRing({ engines: this.workers });
    this.table = new FunctionTable(options.functions);
    this.#slots = Array.from({ length: this.workers }, (_, index) => ({ index, waiters: [], quickCrashes: 0 }));
    this.#load = new Int32Array(this.workers);
    this.#dir = mkdtempSync(path.join(tmpdir(), 'islet-engines-'));
    this.#admin = new AdminFront(this);
    if (this.#options.dataPath === 'handoff') {
      if (this.workers > 1) throw new ConfigError('connection handoff serves one engine: with several workers requests are proxied');
      this.#handoff = new Handoff();
    }
  }

  /**
   * Starts the engines with the config's functions (a function that does not load is a config
   * error: nothing is served), then listens. Resolves with the URL.
   */
  async start(): Promise<string> {
    try {
      const engines = await Promise.all(this.#slots.map((slot) => this.#startEngine(slot, true)));
      engines.forEach((engine, i) => this.#serve(this.#slots[i]!, engine));
      this.#refillStandby();
    } catch (err) {
      await this.close(0);
      throw err;
    }
    // One engine: connections are handed to it and requests skip the supervisor. Several: the
    // supervisor reads each request's Host to pick its engine, so it proxies.
    const server = this.#handoff?.server ?? http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => this.#handle(req, res)).on('connect', refuseConnect).on('clientError', refuseUnparsable);
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, `${this.#options.host}:${this.#options.port}`)));
      server.listen(this.#options.port, this.#options.host, () => resolve());
    }).catch(async (err: unknown) => {
      await this.close(0);
      throw err;
    });
    if (Number.isFinite(this.#options.recycleRssMb)) {
      this.#rssTimer = setInterval(() => this.#checkRss(), this.#options.rssCheckMs);
      this.#rssTimer.unref();
    }
    // An engine that stops answering without dying (stopped, wedged in native code) would hold
    // its requests until clients gave up; nothing else would notice, since no connection breaks.
    this.#heartbeatTimer = setInterval(() => {
      for (const slot of this.#slots) if (slot.engine) this.#failed(slot.engine, 'heartbeat');
    }, HEARTBEAT_MS);
    this.#heartbeatTimer.unref();
    const info = server.address() as AddressInfo;
    return `http://${info.family === 'IPv6' ? `[${info.address}]` : info.address}:${info.port}`;
  }

  /** Engines serving now, by slot (undefined while a slot's engine is being replaced). */
  engines(): (EngineProcess | undefined)[] {
    return this.#slots.map((s) => s.engine);
  }

  info(): SupervisorInfo {
    return { workers: this.workers, functions: this.table.size, engineRestarts: this.stats.restarts, engineRecycles: this.stats.recycles, answers: { ...this.stats.answers } };
  }

  /** Counts `n` error answers the supervisor wrote (502 engine-restarted, 503 shutting down…). */
  #countAnswers(code: string, n = 1): void {
    this.stats.answers[code] = (this.stats.answers[code] ?? 0) + n;
    this.#answersPush ??= setTimeout(() => {
      this.#answersPush = undefined;
      this.#pushInfo();
    }, ANSWERS_PUSH_MS).unref();
  }

  /**
   * Runs `hook` before a function is placed on another slot (a spill), so that its log followers
   * follow it there before any request is routed there. Returns the unsubscribe.
   */
  beforePlacement(hook: (name: string, slot: number) => Promise<void>): () => void {
    this.#placementHooks.add(hook);
    return () => this.#placementHooks.delete(hook);
  }

  /** Every slot the function is deployed on: its home first. */
  placements(name: string): number[] {
    return [this.ring.home(name), ...(this.#spilled.get(name) ?? [])];
  }

  /** The serving engine of a slot, waiting for one while it is being replaced. */
  engineOf(slotIndex: number): Promise<EngineProcess> {
    const slot = this.#slots[slotIndex]!;
    if (slot.engine?.state === 'serving') return Promise.resolve(slot.engine);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        slot.waiters.splice(slot.waiters.indexOf(waiter), 1);
        reject(new SandboxUnavailableError(`no engine process was ready within ${this.#options.restartWaitMs} ms`));
      }, this.#options.restartWaitMs);
      const waiter = (e: EngineProcess | Error) => {
        clearTimeout(timer);
        if (e instanceof Error) reject(e);
        else resolve(e);
      };
      slot.waiters.push(waiter);
    });
  }

  /**
   * Sends a request to an engine, counting it against the slot's load until it is answered. Admin
   * calls (`load: 0`) do not count: a log stream stays open for as long as someone follows it,
   * and forty of them would make a function spill to an engine whose logs nobody follows.
   */
  dispatch(slotIndex: number, engine: EngineProcess, req: IncomingMessage, res: ServerResponse, fn: string, load: 0 | 1 = 1, resent = false): void {
    engine.inFlight++;
    this.#load[slotIndex]! += load;
    // forward() may end the exchange before it returns (undici refuses some requests at once).
    let ended = false;
    let stop: ((reason: IsletError) => void) | undefined;
    stop = forward(engine.pool, req, res, fn, () => {
      ended = true;
      engine.inFlight--;
      this.#load[slotIndex]! -= load;
      if (stop) this.#proxied.delete(stop);
      if (engine.inFlight === 0) engine.emitIdle();
    }, () => this.#failed(engine), resent ? undefined : (refused) => this.#resend(slotIndex, engine, req, res, fn, load, refused), (answer) => this.#countAnswers(answer.headers['islet-error']!));
    if (!ended) this.#proxied.add(stop);
  }

  /**
   * A request that `engine`'s socket refused: the engine is dead, and the supervisor has not seen
   * its exit yet (tens of ms). It is sent once more, when the engine is gone or found unresponsive
   * (#failed has asked), to the slot's serving engine: its replacement, which engineOf waits for.
   */
  #resend(slotIndex: number, engine: EngineProcess, req: IncomingMessage, res: ServerResponse, fn: string, load: 0 | 1, refused: boolean): void {
    const checked = new Promise((resolve) => setTimeout(resolve, ENGINE_CHECK_MS + 50).unref());
    void Promise.race([engine.exited, checked])
      .then(() => {
        // Alive and answering over IPC, yet its socket refuses connections (its file removed by a
        // tmp cleaner): it can serve no one, and every request waited 3 s for a 502. Replaced.
        // (Only for a refusal: another error of the connect call, EAGAIN from a full backlog
        // say, comes from an engine that is there.)
        if (refused && engine.state === 'serving' && !this.#closing) {
          this.logger.error({ pid: engine.pid }, 'engine process refuses connections on its socket: replacing it');
          engine.state = 'failed';
          engine.kill();
        }
        // Shutting down meanwhile: the 503 every other waiting request gets.
        if (this.#closing) throw new SandboxUnavailableError('islet is shutting down');
        return this.engineOf(slotIndex);
      })
      .then((next) => {
        if (!res.destroyed) this.dispatch(slotIndex, next, req, res, fn, load, true);
      }, (err: unknown) => {
        // A client that left meanwhile gets no answer, and none is counted.
        if (!res.destroyed) this.#fail(res, err, fn);
      });
  }

  /**
   * A request's connection to `engine` broke. That is how an engine's death looks from here, but
   * also how it looks when the engine cut one connection on purpose (a tenant's stream failed or
   * hit its wall-clock limit): so the engine is asked over IPC whether it is alive. If it does
   * not answer in time it is taken out of service (requests then wait for its replacement) and
   * killed, which makes sure its exit comes; if it answers, only that one request was lost.
   */
  #failed(engine: EngineProcess, why: 'connection' | 'heartbeat' = 'connection'): void {
    if (engine.state !== 'serving' || this.#checking.has(engine)) return;
    this.#checking.add(engine);
    void engine.responsive(ENGINE_CHECK_MS).then((alive) => {
      this.#checking.delete(engine);
      if (alive || engine.state !== 'serving') return;
      this.logger.error({ pid: engine.pid, after: why }, `engine process did not answer within ${ENGINE_CHECK_MS} ms: replacing it`);
      engine.state = 'failed';
      engine.kill();
    });
  }

  /** Ends each proxied exchange still open (proxy.ts): what close() calls once its grace is over. */
  readonly #proxied = new Set<(reason: IsletError) => void>();

  /** Front responses not yet over, for a shutdown to end their connections after them. */
  readonly #answering = new Set<ServerResponse>();

  readonly #events: EngineEvents = {
    connections: (engine, report) => this.#handoff?.report(engine, report),
    adminWrite: (engine, name, config) => {
      this.table.set(name, config);
      this.#pushInfo();
      void this.#propagate(name, config, engine);
    },
    // The config's files are bundled once, by the first engine to load them: engines started
    // later (replacements, recycles, spill) run that bundle, not whatever is on disk by then.
    bundled: (name, bundle) => {
      const config = this.table.get(name);
      if (config?.entry !== undefined && config.bundle === undefined) this.table.set(name, { ...config, bundle });
    },
    place: (engine, name) => this.#placeBeside(name, engine),
  };

  /** With handoff, the engine answers status and metrics itself: it needs the supervisor's part. */
  #pushInfo(): void {
    if (!this.#handoff) return;
    const info = this.info();
    for (const slot of this.#slots) slot.engine?.send({ t: 'info', info });
  }

  /**
   * A function was deployed or removed through the admin API on `answered`: bring every other
   * engine that holds it (spill copies, an engine starting to replace one) up to date.
   */
  async #propagate(name: string, config: FunctionConfig | undefined, answered: EngineProcess): Promise<void> {
    const targets = new Map<EngineProcess, number>();
    for (const index of this.placements(name)) {
      const slot = this.#slots[index]!;
      if (slot.engine && slot.engine !== answered) targets.set(slot.engine, index);
      const next = slot.replacing && (await slot.replacing.catch(() => undefined));
      if (next && next !== answered) targets.set(next, index);
    }
    if (!config) this.#spilled.delete(name);
    await Promise.all([...targets].map(([e, index]) => (config ? e.deploy([[name, this.#configOn(name, config, index)]]) : e.undeploy(name)).catch(() => {})));
  }

  /**
   * A function's config as slot `index` runs it: a copy away from home (a spill, a service
   * binding's target) serves requests but runs no crons, which its home engine runs once.
   */
  #configOn(name: string, config: FunctionConfig, index: number): FunctionConfig {
    if (index === this.ring.home(name) || !config.crons?.length) return config;
    const { crons: _home, ...copy } = config;
    return copy;
  }

  /**
   * SIGTERM: stop accepting, let requests in flight finish (up to graceMs), then drain every
   * engine (each disposes its isolates before it exits). Resolves false if an engine did not
   * exit cleanly (a crash in its teardown).
   */
  async close(graceMs = this.#options.drainGraceMs): Promise<boolean> {
    if (this.#closing) return true;
    this.#closing = true;
    clearInterval(this.#rssTimer);
    clearInterval(this.#heartbeatTimer);
    const server = this.#server;
    if (server instanceof http.Server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A busy keep-alive connection never goes idle by itself: each answer from now on says
      // `Connection: close` (#handle), and one whose head went out before is closed once it is
      // over, so the drain ends with the work in flight, as with handoff (engine-worker.ts).
      for (const res of this.#answering) {
        if (!res.headersSent) res.shouldKeepAlive = false;
        else res.once('close', () => server.closeIdleConnections());
      }
      this.#answering.clear();
      server.closeIdleConnections();
      // Past the grace, a request still waiting is answered 503 "shutting down", as the engines'
      // own drain answers it with handoff (one whose answer had started is cut), and a connection
      // that still will not close, a second later, is closed.
      let last: NodeJS.Timeout | undefined;
      const cut = setTimeout(() => {
        const stopping = new SandboxUnavailableError('islet is shutting down');
        for (const stop of [...this.#proxied]) stop(stopping);
        last = setTimeout(() => server.closeAllConnections(), 1_000);
      }, graceMs);
      await closed;
      clearTimeout(cut);
      clearTimeout(last);
    } else {
      // Handed-over connections are the engines' to drain; the listening socket closes now.
      server?.close();
    }
    const stopping = new SandboxUnavailableError('islet is shutting down');
    for (const slot of this.#slots) for (const w of slot.waiters.splice(0)) w(stopping);
    const engines = [...this.#slots.flatMap((slot) => [slot.engine, slot.replacing?.catch(() => undefined)]), this.#takeStandby()];
    const exits = await Promise.all(engines.map(async (e) => {
      const engine = await e;
      if (!engine) return '0';
      await engine.drain(graceMs);
      return engine.exited;
    }));
    this.#handoff?.destroyAll();
    rmSync(this.#dir, { recursive: true, force: true });
    const unclean = exits.filter((why) => why !== '0');
    if (unclean.length) this.logger.error({ exits: unclean }, 'engine process(es) did not exit cleanly');
    return unclean.length === 0;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.#closing) {
      // A request on a kept-alive connection after SIGTERM is still served, and its connection closed.
      res.shouldKeepAlive = false;
    } else {
      this.#answering.add(res);
      res.once('close', () => this.#answering.delete(res));
    }
    const url = req.url ?? '/';
    // Decided as the engine's router will decide it ("/x/../_islet/…", "/%5Fislet/…" and absolute
    // targets are the admin API there too), or a request would reach one engine's admin API alone.
    if (isAdminTarget(url)) {
      void this.#admin.handle(req, res).catch((err: unknown) => this.#fail(res, err, undefined));
      return;
    }
    const fn = functionForTarget(url, req.headers.host ?? '');
    // The proxy speaks HTTP requests to the engines (undici), with no way to carry an upgraded
    // connection: said plainly, rather than the function seeing a request without its Upgrade.
    if (req.headers.upgrade?.toLowerCase() === 'websocket') {
      res.writeHead(501, { 'content-type': 'text/plain; charset=utf-8', 'islet-error': 'websocket-unsupported' });
      res.end('WebSockets are not carried by islet serve --proxy: serve without --proxy (connections handed to the engines carry them)\n');
      return;
    }
    let index = this.ring.pick(fn, this.#load);
    const home = this.ring.home(fn);
    if (index !== home && !this.#spilled.get(fn)?.has(index)) {
      this.#spill(fn, index);
      index = home;
    }
    const engine = this.#slots[index]!.engine;
    if (engine?.state === 'serving') return this.dispatch(index, engine, req, res, fn);
    this.engineOf(index).then((e) => this.dispatch(index, e, req, res, fn), (err: unknown) => this.#fail(res, err, fn));
  }

  #fail(res: ServerResponse, err: unknown, fn: string | undefined): void {
    if (!(err instanceof IsletError)) this.logger.error({ err, fn }, 'supervisor error');
    if (res.headersSent) return void res.destroy();
    const answer = errorAnswer(err, fn, false);
    res.writeHead(answer.status, answer.headers).end(answer.body);
    this.#countAnswers(answer.headers['islet-error']!);
  }

  /** A hot function's home is over its bound: deploy it on its second engine, in the background. */
  #spill(fn: string, index: number): void {
    const config = this.table.get(fn);
    if (!config || this.#spilling.has(fn)) return;
    this.#spilling.add(fn);
    // Requests keep going home until the copy is loaded.
    void this.engineOf(index)
      .then(async (e) => {
        if (await this.#placeOn(fn, config, index, e)) this.logger.info({ fn, engine: index }, 'function spilled to a second engine');
      })
      // An engine that went away mid-deploy: the function simply did not spill this time.
      .catch(() => {})
      .finally(() => this.#spilling.delete(fn));
  }

  /**
   * A service binding on `engine` names `fn`, which that engine does not hold: deploy it there,
   * placed as a spill is (redeploys, removals and the engine's replacements keep it there), so
   * the call stays in process. Resolves whether it is there.
   */
  #placeBeside(fn: string, engine: EngineProcess): Promise<boolean> {
    const config = this.table.get(fn);
    const index = this.#slots.findIndex((s) => s.engine === engine);
    if (!config || index < 0) return Promise.resolve(false);
    const key = `${fn}@${index}`;
    let placing = this.#besides.get(key);
    if (!placing) {
      placing = this.#placeOn(fn, config, index, engine).finally(() => this.#besides.delete(key));
      this.#besides.set(key, placing);
    }
    return placing;
  }

  /**
   * Deploys `fn` on slot `index`'s engine `e` and adds the slot to its placements; false if that
   * did not hold. Until it is added, #propagate does not know of the copy: a redeploy meanwhile is
   * deployed here too, and a copy that the table no longer matches (removed, or left behind on an
   * engine taken out of service) is undeployed, or it would answer with a removed or old version.
   */
  async #placeOn(fn: string, config: FunctionConfig, index: number, e: EngineProcess): Promise<boolean> {
    let placing: FunctionConfig | undefined = config;
    let deployed: FunctionConfig | undefined;
    let hooked = false;
    while (placing) {
      const errors = await e.deploy([[fn, this.#configOn(fn, placing, index)]]);
      if (errors[fn]) break;
      deployed = placing;
      // The slot's engine changed meanwhile (recycled, crashed): not placed.
      if (this.#slots[index]!.engine !== e) break;
      if (!hooked) {
        // Bounded: a follower that cannot open its stream must not keep the function from its place.
        const hooks = Promise.allSettled([...this.#placementHooks].map((hook) => hook(fn, index)));
        await Promise.race([hooks, new Promise((r) => setTimeout(r, PLACEMENT_HOOK_MS).unref())]);
        hooked = true;
        if (this.#slots[index]!.engine !== e) break;
      }
      placing = this.table.get(fn);
      if (placing !== deployed) continue;
      let set = this.#spilled.get(fn);
      if (!set) this.#spilled.set(fn, (set = new Set()));
      if (index !== this.ring.home(fn)) set.add(index);
      return true;
    }
    const now = this.table.get(fn);
    // A copy on a slot the function is placed on (its home) is #propagate's to keep up to date.
    const owned = now !== undefined && this.#slots[index]!.engine === e && this.placements(fn).includes(index);
    if (deployed && now !== deployed && !owned) await e.undeploy(fn).catch(() => {});
    return false;
  }

  /**
   * Starts an engine for `slot` with every function placed there; resolves once it serves them
   * all. A replacement takes the standby engine, already booted, so that only the functions'
   * loading stands between a crash and the first answer.
   */
  async #startEngine(slot: Slot, initial: boolean): Promise<EngineProcess> {
    const startedAt = performance.now();
    const standby = initial ? undefined : this.#takeStandby();
    const engine = standby ?? this.#newEngine();
    try {
      await engine.listening();
      // Until nothing is missing: a function may spill to this slot while the engine loads.
      const loaded = new Set<string>();
      for (;;) {
        const functions = this.table.entries((name) => !loaded.has(name) && this.placements(name).includes(slot.index));
        if (!functions.length) break;
        for (const [name] of functions) loaded.add(name);
        // The first engines prove that the config's code loads; a replacement's functions loaded
        // before, and their isolates start as their requests come.
        const errors = await engine.deploy(functions.map(([name, config]) => [name, this.#configOn(name, config, slot.index)]), initial);
        const failed = Object.entries(errors);
        if (failed.length && initial) throw new ConfigError(failed.map(([name, message]) => `function "${name}": ${message}`).join('\n'));
        for (const [name, message] of failed) this.logger.error({ fn: name, engine: slot.index }, `function failed to load in a new engine: ${message}`);
      }
      this.logger.info({ engine: slot.index, pid: engine.pid, functions: loaded.size, standby: standby !== undefined, ms: Math.round(performance.now() - startedAt) }, 'engine process ready');
      return engine;
    } catch (err) {
      engine.kill();
      throw err;
    }
  }

  #newEngine(): EngineProcess {
    return new EngineProcess({
      t: 'start',
      socketPath: path.join(this.#dir, `engine-${++this.#generation}.sock`),
      adminToken: this.#options.adminToken,
      trustProxy: this.#options.trustProxy ?? false,
      engine: this.#options.engine,
    }, { connections: this.#options.connectionsPerEngine, events: this.#events });
  }

  #takeStandby(): EngineProcess | undefined {
    const standby = this.#standby;
    this.#standby = undefined;
    return standby?.state === 'starting' ? standby : undefined;
  }

  /** Boots a spare engine with no functions, for the next replacement. */
  #refillStandby(): void {
    if (!this.#options.standby || this.#standby || this.#closing) return;
    const standby = this.#newEngine();
    this.#standby = standby;
    void standby.exited.then(() => {
      if (this.#standby !== standby) return;
      // It died waiting (killed, out of memory): another one, after a pause, so that a standby that
      // cannot start does not spin.
      this.#standby = undefined;
      setTimeout(() => this.#refillStandby(), STANDBY_RETRY_MS).unref();
    });
  }

  /** Puts `engine` in service for `slot`, and arranges its replacement if it dies. */
  #serve(slot: Slot, engine: EngineProcess): void {
    const startedAt = Date.now();
    engine.state = 'serving';
    slot.engine = engine;
    this.#handoff?.serveWith(engine);
    this.#pushInfo();
    for (const w of slot.waiters.splice(0)) w(engine);
    void engine.exited.then((why) => {
      // Cut off at the end of a shutdown's drain, a request is told so, not that a new engine comes.
      const reason = this.#closing ? new SandboxUnavailableError('islet is shutting down') : new EngineRestartedError();
      const answered = this.#handoff?.engineGone(engine, reason) ?? 0;
      if (answered) this.#countAnswers(reason.code, answered);
      if (slot.engine !== engine || this.#closing) return;
      slot.engine = undefined;
      this.stats.restarts++;
      slot.quickCrashes = Date.now() - startedAt < this.#options.quickCrashMs ? slot.quickCrashes + 1 : 0;
      this.logger.error({ engine: slot.index, pid: engine.pid, exit: why }, 'engine process died; starting a new one');
      this.#replace(slot);
    });
  }

  /** Starts a new engine for the slot (after a back-off when engines keep dying young). */
  #replace(slot: Slot): Promise<EngineProcess> {
    if (slot.replacing) return slot.replacing;
    const delayMs = slot.quickCrashes > 1 ? Math.min(5_000, 100 * 2 ** (slot.quickCrashes - 2)) : 0;
    const attempt = async (): Promise<EngineProcess> => {
      await new Promise((r) => setTimeout(r, delayMs));
      return this.#startEngine(slot, false);
    };
    slot.replacing = attempt().then(
      (engine) => {
        slot.replacing = undefined;
        if (this.#closing) {
          void engine.drain(0);
          return engine;
        }
        const old = slot.engine;
        this.#serve(slot, engine);
        if (old) void this.#retire(old);
        this.#refillStandby();
        return engine;
      },
      (err: unknown) => {
        slot.replacing = undefined;
        this.logger.error({ engine: slot.index, err }, 'engine process failed to start; trying again');
        if (!this.#closing) {
          slot.quickCrashes++;
          void this.#replace(slot);
        }
        throw err;
      },
    );
    slot.replacing.catch(() => {});
    return slot.replacing;
  }

  /** An engine taken out of service: once its requests in flight are answered, it drains and exits. */
  async #retire(engine: EngineProcess): Promise<void> {
    engine.state = 'draining';
    if (this.#handoff) await this.#handoff.release(engine, this.#options.drainGraceMs);
    else await engine.idle(this.#options.drainGraceMs);
    await engine.drain(this.#options.drainGraceMs);
  }

  /** Each serving engine's first RSS reading and when it was taken (recycling's backoff). */
  readonly #firstSeen = new WeakMap<EngineProcess, { rss: number; at: number }>();
  /** How long an engine must serve before it may be recycled: grows while fresh engines start over the threshold. */
  #recycleAfterMs = 0;

  /**
   * Recycling: an engine past the RSS threshold is replaced by a fresh one, with no request lost.
   * A threshold below what a fresh engine already uses would replace engines in a loop, each
   * reloading every function (a probe's 50 MB: 13 in 15 s, for ever): when an engine was over it
   * from its first reading, the next may be recycled only after serving twice as long (1 s, 2 s,
   * … up to 5 min), and the operator is told once.
   */
  #checkRss(): void {
    const limit = this.#options.recycleRssMb * 1048576;
    const now = performance.now();
    for (const slot of this.#slots) {
      const engine = slot.engine;
      if (!engine || engine.state !== 'serving' || slot.replacing) continue;
      const rss = engine.rssBytes();
      let first = this.#firstSeen.get(engine);
      if (!first) this.#firstSeen.set(engine, first = { rss, at: now });
      if (rss <= limit || now - first.at < this.#recycleAfterMs) continue;
      if (first.rss > limit) {
        if (this.#recycleAfterMs === 0) {
          this.logger.warn({ recycleRssMb: this.#options.recycleRssMb, freshRssMb: Math.round(first.rss / 1048576) }, 'the RSS threshold for recycling engines is below what a fresh engine uses: recycling backs off (raise --recycle-rss-mb)');
        }
        this.#recycleAfterMs = Math.min(Math.max(RECYCLE_BACKOFF_FIRST_MS, this.#recycleAfterMs * 2), RECYCLE_BACKOFF_MAX_MS);
      }
      this.stats.recycles++;
      this.#pushInfo();
      this.logger.info({ engine: slot.index, pid: engine.pid, rssMb: Math.round(rss / 1048576) }, 'engine process over its RSS threshold: recycling it');
      this.#replace(slot).catch(() => {});
    }
  }
}
