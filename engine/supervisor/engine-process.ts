// One engine process as the supervisor sees it: the child, the connection pool to its socket,
// its requests in flight, and the calls that load functions into it or drain it.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import type { TenantBundle } from '../bundle/index.ts';
import type { FunctionConfig } from '../engine.ts';
import { IdleSignal } from './idle-signal.ts';
import type { Socket } from 'node:net';
import type { ConnectionReport, EngineStart, FromEngine, ToEngine } from './protocol.ts';
import { ownFile } from '../own-file.ts';

/** What an engine tells the supervisor besides answers to its calls. */
export interface EngineEvents {
  connections(engine: EngineProcess, report: ConnectionReport): void;
  /** A deploy (config) or removal (undefined) through this engine's admin API. */
  adminWrite(engine: EngineProcess, name: string, config: FunctionConfig | undefined): void;
  /** The bundle an `entry` function of the config loaded from. */
  bundled(name: string, bundle: TenantBundle): void;
  /** A service binding in this engine names `name`, which it does not hold: place it here; resolves whether it is. */
  place(engine: EngineProcess, name: string): Promise<boolean>;
}

const WORKER = fileURLToPath(ownFile('./engine-worker', import.meta.url));

export type EngineState = 'starting' | 'serving' | 'draining' | 'failed' | 'exited';

export class EngineProcess {
  readonly child: ChildProcess;
  readonly pool: Pool;
  readonly socketPath: string;
  state: EngineState = 'starting';
  /** Requests the supervisor has sent here and not seen answered. */
  inFlight = 0;
  /** Resolves with the exit code or signal when the process is gone ('0' once it drained). */
  readonly exited: Promise<string>;
  readonly #pending = new Map<number, { resolve: (errors: Record<string, string>) => void; reject: (err: Error) => void }>();
  #nextId = 1;
  #drained = false;
  readonly #idle = new IdleSignal();
  #up: Promise<void>;

  constructor(start: EngineStart, options: { connections: number | null; events: EngineEvents }) {
    this.socketPath = start.socketPath;
    // stdout/stderr inherited: the engines' JSON log lines join the supervisor's.
    this.child = fork(WORKER, [], { execArgv: ['--no-node-snapshot', '--disable-sigusr1', ...process.execArgv.filter((a) => a !== '--no-node-snapshot' && a !== '--disable-sigusr1')], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    this.pool = new Pool('http://localhost', { socketPath: start.socketPath, connections: options.connections, pipelining: 1, keepAliveTimeout: 60_000,
      // The engine enforces the tenants' limits; a proxy timeout of its own would cut a quiet
      // stream (server-sent events, a log tail) after undici's default 5 minutes.
      bodyTimeout: 0 });
    // 'close', not 'exit': it comes after the IPC channel is drained, so a "drained" message sent
    // just before the engine's exit is always seen first.
    this.exited = new Promise((resolve) => this.child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      this.state = 'exited';
      if (this.#drained && signal === 'SIGKILL') [code, signal] = [0, null];
      const why = new Error(`engine process exited (${signal ?? code})`);
      for (const p of this.#pending.values()) p.reject(why);
      this.#pending.clear();
      void this.pool.destroy().catch(() => {});
      // A killed engine leaves its socket file: one per crash piled up in the supervisor's directory.
      rmSync(this.socketPath, { force: true });
      resolve(signal ?? String(code));
    }));
    this.#up = new Promise((resolve, reject) => {
      const onMessage = (m: FromEngine) => {
        if (m.t === 'up') this.send(start);
        else if (m.t === 'listening') resolve();
        else if (m.t === 'drained') this.#drained = true;
        else if (m.t === 'conns') options.events.connections(this, m);
        else if (m.t === 'deployed') options.events.adminWrite(this, m.name, m.config);
        else if (m.t === 'removed') options.events.adminWrite(this, m.name, undefined);
        else if (m.t === 'bundled') options.events.bundled(m.name, m.bundle);
        else if (m.t === 'place') void options.events.place(this, m.name).catch(() => false).then((ok) => this.send({ t: 'placed', id: m.id, ok }));
        else if (m.t === 'done') {
          this.#pending.get(m.id)?.resolve(m.errors);
          this.#pending.delete(m.id);
        }
      };
      this.child.on('message', onMessage);
      void this.exited.then((why) => reject(new Error(`engine process exited (${why}) while starting`)));
    });
    this.#up.catch(() => {});
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Resolves once the engine listens (it may still be loading functions). */
  listening(): Promise<void> {
    return this.#up;
  }

  /**
   * Deploys functions (in parallel in the engine); resolves with each failure's message. With
   * `boot: false` their isolates start on their first requests.
   */
  async deploy(functions: [string, FunctionConfig][], boot = true): Promise<Record<string, string>> {
    await this.#up;
    return this.#call({ t: 'deploy', id: this.#nextId++, functions, boot });
  }

  async undeploy(name: string): Promise<void> {
    await this.#up;
    await this.#call({ t: 'undeploy', id: this.#nextId++, name });
  }

  /** Lets requests in flight finish (up to graceMs), then the engine disposes its isolates and exits. */
  async drain(graceMs: number): Promise<void> {
    if (this.state === 'exited') return;
    this.state = 'draining';
    if (this.child.connected) this.send({ t: 'drain', graceMs });
    else this.child.kill('SIGTERM');
    // A stuck engine does not get to hold the supervisor's shutdown.
    const kill = setTimeout(() => this.child.kill('SIGKILL'), graceMs + 5_000);
    await this.exited;
    clearTimeout(kill);
    await this.pool.close().catch(() => {});
  }

  /** Resolves when no request is in flight here any more (or after timeoutMs). */
  idle(timeoutMs: number): Promise<void> {
    return this.#idle.wait(this.inFlight === 0, timeoutMs);
  }

  /** Called by the supervisor when its last request in flight here was answered. */
  emitIdle(): void {
    this.#idle.notify();
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  /** Whether the engine answers over IPC within `timeoutMs`: alive, and its event loop turning. */
  async responsive(timeoutMs: number): Promise<boolean> {
    if (this.state === 'exited' || !this.child.connected) return false;
    const id = this.#nextId++;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const ok = await Promise.race([this.#call({ t: 'ping', id }).then(() => true, () => false), late]);
    clearTimeout(timer);
    this.#pending.delete(id);
    return ok;
  }

  /** Resident memory of the engine process in bytes, from /proc (0 once it is gone). */
  rssBytes(): number {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'latin1');
      const kb = /VmRSS:\s+(\d+)/.exec(status);
      return kb ? Number(kb[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  }

  #call(m: ToEngine & { id: number }): Promise<Record<string, string>> {
    return new Promise((resolve, reject) => {
      if (this.state === 'exited') return reject(new Error('engine process has exited'));
      this.#pending.set(m.id, { resolve, reject });
      this.send(m);
    });
  }

  /** Passes a client connection to the engine; `failed` runs if it could not be delivered. */
  handOver(id: number, socket: Socket, failed: () => void): void {
    if (!this.child.connected) return failed();
    this.child.send({ t: 'conn', id } satisfies ToEngine, socket, { keepOpen: true }, (err) => {
      if (err) failed();
    });
  }

  send(m: ToEngine): void {
    // `connected` can still be true when the engine has just died: the write then fails with
    // EPIPE, which without a callback is an 'error' event that would end the supervisor. The
    // engine's end is handled where its 'close' arrives.
    if (this.child.connected) this.child.send(m, () => {});
  }
}
