// A pool worker thread: owns the backends and the models loaded into them (once per worker, on
// first use), and answers three kinds of task from the pool. Tensors arrive and leave as
// transferred ArrayBuffers, so a batch is never copied element by element between threads.
import { pathToFileURL } from 'node:url';
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import type { Backend, CallFailure, Capabilities, Device, LoadedModel, ModelPlan, ModelSignature } from './backend.ts';
import { BUILTIN_BACKENDS } from './backends/index.ts';
import { buffersOf, type TensorMap } from './tensor.ts';

export type WorkerTask =
  | { op: 'probe' }
  | { op: 'describe'; plans: ModelPlan[] }
  | { op: 'run'; plan: ModelPlan; calls: TensorMap[] };

export interface ProbeReply {
  capabilities: Capabilities;
  /** Built-in model → the backend that provides it. */
  builtins: Record<string, string>;
}

export type Description =
  | { name: string; ok: true; signature: ModelSignature; device: Device; fallback?: string; choice?: string }
  | { name: string; ok: false; error: string };

/** A run's answer when this worker could not load the model, with why. */
export interface Unavailable {
  unavailable: string;
}

export interface WorkerData {
  /** Modules (paths or URLs) whose `backend` export joins the built-in backends. */
  backendModules?: string[];
  /** The process's WebGPU turn word (gpu-turns.ts). */
  gpuTurns?: SharedArrayBuffer;
}

let backends: Promise<Map<string, Backend>> | undefined;
const models = new Map<string, Promise<LoadedModel>>();

function allBackends(): Promise<Map<string, Backend>> {
  backends ??= (async () => {
    const extra = await Promise.all(((workerData as WorkerData | undefined)?.backendModules ?? []).map(async (specifier) => {
      const url = /^[a-z]+:/.test(specifier) ? specifier : pathToFileURL(specifier).href;
      return ((await import(url)) as { backend: Backend }).backend;
    }));
    return new Map([...BUILTIN_BACKENDS, ...extra].map((b) => [b.name, b]));
  })();
  return backends;
}

async function model(plan: ModelPlan): Promise<LoadedModel> {
  let loaded = models.get(plan.name);
  if (!loaded) {
    loaded = allBackends().then((all) => {
      const backend = all.get(plan.backend);
      if (!backend) throw new Error(`no backend named "${plan.backend}"`);
      return backend.load(plan);
    });
    models.set(plan.name, loaded);
    // A failed load is not remembered: the next batch tries again.
    loaded.catch(() => models.delete(plan.name));
  }
  return loaded;
}

/** A batch's answers, with their buffers moved to the pool's thread rather than copied. */
class MovedResults {
  readonly #results: (TensorMap | CallFailure)[];
  constructor(results: (TensorMap | CallFailure)[]) {
    this.#results = results;
  }
  get [transferableSymbol](): ArrayBuffer[] {
    return buffersOf(this.#results.filter((r): r is TensorMap => !('error' in r && typeof r.error === 'string')));
  }
  get [valueSymbol](): (TensorMap | CallFailure)[] {
    return this.#results;
  }
}

export default async function task(t: WorkerTask): Promise<unknown> {
  switch (t.op) {
    case 'probe': {
      const all = [...(await allBackends()).values()];
      const probes = await Promise.all(all.map((b) => b.probe()));
      return {
        capabilities: Object.fromEntries(all.map((b, i) => [b.name, probes[i]!])),
        builtins: Object.fromEntries(all.flatMap((b) => (b.builtins ?? []).map((m) => [m, b.name]))),
      } satisfies ProbeReply;
    }
    case 'describe':
      return Promise.all(t.plans.map(async (plan): Promise<Description> => {
        try {
          const m = await model(plan);
          return { name: plan.name, ok: true, signature: m.signature, device: m.device, ...(m.fallback && { fallback: m.fallback }), ...(m.choice && { choice: m.choice }) };
        } catch (err) {
          return { name: plan.name, ok: false, error: err instanceof Error ? err.message : String(err) };
        }
      }));
    case 'run': {
      let m: LoadedModel;
      try {
        m = await model(t.plan);
      } catch (err) {
        // A worker started after the pool's (a replacement, or a second one on its first batch)
        // loads the model now. Why it failed (a path on this host) is the pool's to log; the
        // batch's callers are only told the model is unavailable.
        return { unavailable: err instanceof Error ? err.message : String(err) } satisfies Unavailable;
      }
      const results = await m.run(t.calls);
      if (results.length !== t.calls.length) throw new Error(`backend "${t.plan.backend}" answered ${results.length} of ${t.calls.length} calls`);
      return move(new MovedResults(results));
    }
  }
}
