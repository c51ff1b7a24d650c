// The admin API (/_islet/) in front of the engines. Each engine still checks the token and
// answers; the supervisor decides which engine is asked, records deploys and removals in its
// function table once an engine accepted them, and gathers the answers that span engines
// (the function list, status, metrics).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FunctionConfig } from '../engine.ts';
import { EngineRestartedError } from '../errors.ts';
import { MAX_DEPLOY_BYTES } from '../gateway/index.ts';
import type { EngineProcess } from './engine-process.ts';
import { mergeMetrics } from './metrics-merge.ts';
import type { Supervisor } from './supervisor.ts';

interface EngineAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export class AdminFront {
  readonly #sup: Supervisor;

  constructor(sup: Supervisor) {
    this.#sup = sup;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { pathname } = new URL(req.url ?? '/', 'http://admin');
    const one = /^\/_islet\/functions\/([^/]+)(\/.*)?$/.exec(pathname);
    if (one) {
      const name = decodeURIComponent(one[1]!);
      const home = this.#sup.ring.home(name);
      if (!one[2] && (req.method === 'PUT' || req.method === 'DELETE')) return this.#write(req, res, name, home);
      // Reads of one function (and its log stream) go to its home engine as they are.
      return this.#sup.dispatch(home, await this.#sup.engineOf(home), req, res, name);
    }
    if (req.method === 'GET' && pathname === '/_islet/functions') return this.#gather(req, res, (answers) => functionList(answers));
    if (req.method === 'GET' && pathname === '/_islet/status') return this.#gather(req, res, (answers) => this.#status(answers));
    if (req.method === 'GET' && pathname === '/_islet/metrics') return this.#gather(req, res, (answers) => this.#metrics(answers));
    // Anything else (a wrong token, an unknown route) is answered by an engine, as in one process.
    return this.#sup.dispatch(0, await this.#sup.engineOf(0), req, res, '');
  }

  /** A deploy or removal: the home engine answers; if it accepted, the table keeps it. */
  async #write(req: IncomingMessage, res: ServerResponse, name: string, home: number): Promise<void> {
    const body = await readBody(req, MAX_DEPLOY_BYTES);
    if (!body) return void send(res, { status: 413, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ error: 'body_too_large', message: `deploy requests are limited to ${MAX_DEPLOY_BYTES} bytes` })) });
    const seq = this.#sup.table.begin(name);
    const engine = await this.#sup.engineOf(home);
    const answer = await ask(engine, req.method!, req.url!, forwardedHeaders(req), body);
    if (answer.status >= 200 && answer.status < 300) {
      const config = req.method === 'PUT' ? deployedConfig(body) : undefined;
      if (this.#sup.table.commit(name, seq, config)) await this.#sup.propagate(name, config, engine);
    }
    send(res, answer);
  }

  /** Asks every engine the same GET; the first refusal (say a wrong token) is the answer. */
  async #gather(req: IncomingMessage, res: ServerResponse, merge: (answers: EngineAnswer[]) => EngineAnswer): Promise<void> {
    const engines = await Promise.all(this.#sup.engines().map((_, i) => this.#sup.engineOf(i)));
    const answers = await Promise.all(engines.map((e) => ask(e, 'GET', req.url!, forwardedHeaders(req), undefined)));
    send(res, answers.find((a) => a.status !== 200) ?? merge(answers));
  }

  #status(answers: EngineAnswer[]): EngineAnswer {
    const engines = this.#sup.engines();
    const each = answers.map((a) => JSON.parse(a.body.toString()) as Record<string, unknown>);
    // Counters and sizes add up across engines; the rest (version, tiers) is the same in each.
    const total: Record<string, unknown> = {};
    for (const status of each) {
      for (const [key, value] of Object.entries(status)) {
        total[key] = typeof value === 'number' ? ((total[key] as number | undefined) ?? 0) + value : (total[key] ?? value);
      }
    }
    const body = {
      ...total,
      functions: this.#sup.table.size,
      workers: this.#sup.workers,
      engineRestarts: this.#sup.stats.restarts,
      engineRecycles: this.#sup.stats.recycles,
      engines: each.map((status, i) => ({ slot: i, pid: engines[i]?.pid, inFlight: engines[i]?.inFlight, ...status })),
    };
    return json(200, body);
  }

  #metrics(answers: EngineAnswer[]): EngineAnswer {
    const own = [
      '# HELP islet_engine_restarts_total Engine processes that died and were replaced.',
      '# TYPE islet_engine_restarts_total counter',
      `islet_engine_restarts_total ${this.#sup.stats.restarts}`,
      '# HELP islet_engine_recycles_total Engine processes replaced for passing their RSS threshold.',
      '# TYPE islet_engine_recycles_total counter',
      `islet_engine_recycles_total ${this.#sup.stats.recycles}`,
      '',
    ].join('\n');
    const merged = mergeMetrics(answers.map((a) => a.body.toString()), answers.map((_, i) => String(i)));
    return { status: 200, headers: { 'content-type': String(answers[0]?.headers['content-type'] ?? 'text/plain; version=0.0.4; charset=utf-8') }, body: Buffer.from(own + merged) };
  }
}

function functionList(answers: EngineAnswer[]): EngineAnswer {
  // A function that spilled is listed by two engines: once is enough.
  const seen = new Map<string, unknown>();
  for (const a of answers) {
    for (const fn of (JSON.parse(a.body.toString()) as { functions: { name: string }[] }).functions) if (!seen.has(fn.name)) seen.set(fn.name, fn);
  }
  return json(200, { functions: [...seen.values()] });
}

/** What the engine was given, as the function table keeps it for a replacement engine. */
function deployedConfig(body: Buffer): FunctionConfig {
  const { code, limits, env, egress, crons } = JSON.parse(body.toString()) as FunctionConfig;
  return { code, limits, env, egress, crons };
}

async function ask(engine: EngineProcess, method: string, path: string, headers: string[], body: Buffer | undefined): Promise<EngineAnswer> {
  engine.inFlight++;
  try {
    const res = await engine.pool.request({ method: method as 'GET', path, headers, body });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  } catch {
    // The only way a request on the engine's own socket fails: the engine died under it.
    throw new EngineRestartedError();
  } finally {
    engine.inFlight--;
    if (engine.inFlight === 0) engine.emitIdle();
  }
}

function forwardedHeaders(req: IncomingMessage): string[] {
  const auth = req.headers.authorization;
  const type = req.headers['content-type'];
  return [...(auth ? ['authorization', auth] : []), ...(type ? ['content-type', type] : [])];
}

/** The whole body, or undefined past `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function json(status: number, body: unknown): EngineAnswer {
  return { status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) };
}

function send(res: ServerResponse, answer: EngineAnswer): void {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && k !== 'content-length' && k !== 'connection' && k !== 'keep-alive' && k !== 'transfer-encoding') headers[k] = v;
  res.writeHead(answer.status, headers).end(answer.body);
}
