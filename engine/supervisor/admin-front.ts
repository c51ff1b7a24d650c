// The admin API (/_islet/) in front of several engines. Each engine still checks the token and
// answers; the supervisor decides which engine is asked and gathers the answers that span
// engines (the function list, status, metrics).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EngineRestartedError } from '../errors.ts';
import { routerPath } from '../gateway/index.ts';
import type { EngineProcess } from './engine-process.ts';
import { clusterStatus, supervisorMetrics } from './cluster-status.ts';
import { MergedTail } from './merged-tail.ts';
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
    // The path the engines' router will see, so that each request is sent where it belongs.
    const pathname = routerPath(req.url ?? '/');
    const one = /^\/_islet\/functions\/([^/]+)(\/.*)?$/.exec(pathname);
    // A malformed escape names no function: it goes on to the engine's answer below (401, or 404).
    const name = one ? decodeName(one[1]!) : undefined;
    if (one && name !== undefined) {
      // A function that spilled runs on two engines, and each sees only its own requests.
      if (req.method === 'GET' && one[2] === '/logs' && this.#sup.workers > 1) return MergedTail.start(this.#sup, name, req, res);
      const home = this.#sup.ring.home(name);
      // Deploys, removals and reads of one function (its log stream too) go to its home engine;
      // the engine reports a successful deploy or removal to the supervisor, which keeps it.
      return this.#sup.dispatch(home, await this.#sup.engineOf(home), req, res, name, 0);
    }
    if (req.method === 'GET' && pathname === '/_islet/functions') return this.#gather(req, res, (answers) => functionList(answers));
    if (req.method === 'GET' && pathname === '/_islet/status') return this.#gather(req, res, (answers) => this.#status(answers));
    if (req.method === 'GET' && pathname === '/_islet/metrics') return this.#gather(req, res, (answers) => this.#metrics(answers));
    // Anything else (a wrong token, an unknown route) is answered by an engine, as in one process.
    return this.#sup.dispatch(0, await this.#sup.engineOf(0), req, res, '', 0);
  }

  /** Asks every engine the same GET; the first refusal (say a wrong token) is the answer. */
  async #gather(req: IncomingMessage, res: ServerResponse, merge: (answers: EngineAnswer[]) => EngineAnswer): Promise<void> {
    const answers = await Promise.all(this.#sup.engines().map((_, i) => this.#askSlot(i, req)));
    send(res, answers.find((a) => a.status !== 200) ?? merge(answers));
  }

  /** The slot's engine's answer; asked again of its successor if it was being replaced. */
  async #askSlot(slot: number, req: IncomingMessage): Promise<EngineAnswer> {
    for (let attempt = 0; ; attempt++) {
      const engine = await this.#sup.engineOf(slot);
      try {
        return await ask(engine, req.url!, forwardedHeaders(req));
      } catch (err) {
        if (attempt > 0 || engine.state === 'serving') throw err;
      }
    }
  }

  #status(answers: EngineAnswer[]): EngineAnswer {
    const engines = this.#sup.engines();
    return json(200, clusterStatus(answers.map((a, i) => ({
      pid: engines[i]?.pid ?? 0,
      inFlight: engines[i]?.inFlight ?? 0,
      status: JSON.parse(a.body.toString()) as Record<string, unknown>,
    })), this.#sup.info()));
  }

  #metrics(answers: EngineAnswer[]): EngineAnswer {
    const merged = mergeMetrics(answers.map((a) => a.body.toString()), answers.map((_, i) => String(i)));
    return { status: 200, headers: { 'content-type': String(answers[0]?.headers['content-type'] ?? 'text/plain; version=0.0.4; charset=utf-8') }, body: Buffer.from(supervisorMetrics(this.#sup.info()) + merged) };
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

async function ask(engine: EngineProcess, path: string, headers: string[]): Promise<EngineAnswer> {
  engine.inFlight++;
  try {
    const res = await engine.pool.request({ method: 'GET', path, headers });
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
  return auth ? ['authorization', auth] : [];
}

function json(status: number, body: unknown): EngineAnswer {
  return { status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) };
}

function send(res: ServerResponse, answer: EngineAnswer): void {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && k !== 'content-length' && k !== 'connection' && k !== 'keep-alive' && k !== 'transfer-encoding') headers[k] = v;
  res.writeHead(answer.status, headers).end(answer.body);
}

function decodeName(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}
