// The accelerator pool: worker threads (piscina) own the backends; the event loop only queues,
// batches and routes. Calls to one model from every tenant are coalesced into batches (up to
// maxBatch, or after maxWaitUs), filled fairly across tenants, run on a free worker, and split
// back. Each tenant has a quota of pending calls, each model a bounded queue, each call a
// timeout and an optional AbortSignal. A batch that crashes its worker fails alone; piscina
// starts a replacement worker.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { ACCEL_DEFAULTS, accelWorkers, STRING_OVERHEAD_BYTES } from '../limits.ts';
import { silentLogger, type Logger } from '../observe/index.ts';
import type { CallFailure, Capabilities, Device, ModelPlan, ModelSignature } from './backend.ts';
import { selectDevice } from './device-select.ts';
import { createTurnWord } from './gpu-turns.ts';
import {
  AbortedError, AccelTimeoutError, BackendError, BadInputError, OverloadedError, QuotaExceededError, UnknownModelError,
} from './errors.ts';
import { FairBatchQueue, type QueuedCall } from './fair-batch-queue.ts';
import { builtinModelConfig, checkModels, type ModelConfig, type ResolvedModelConfig } from './model-config.ts';
import { checkInputs } from './signature.ts';
import { buffersOf, bytesPerElement, elementCount, tensorBytes, type TensorMap } from './tensor.ts';
import type { Description, ProbeReply, Unavailable, WorkerData, WorkerTask } from './worker.ts';
import { ownFile } from '../own-file.ts';
import type { ModelGauges } from '../observe/metrics.ts';

export interface AccelPoolOptions {
  /** Models beyond the built-in ones (the config's "models"). */
  models?: Record<string, ModelConfig>;
  /** Worker threads (default: accelWorkers(cores) in engine/limits.ts). */
  workers?: number;
  /** false: every call runs alone, as soon as a worker is free (for comparison; default true). */
  batching?: boolean;
  /** Modules whose `backend` export the workers load besides the built-in backends. */
  backendModules?: string[];
  /** What the machine offers; by default a worker probes every backend (tests inject one). */
  probe?: (workerProbe: () => Promise<ProbeReply>) => Promise<ProbeReply>;
  logger?: Logger;
}

export interface RunRequest {
  /** Whose call it is: fairness and quotas are per tenant (the function's name). */
  tenant: string;
  model: string;
  /** Checked against the model's signature; the pool takes ownership of the buffers (they are transferred). */
  inputs: TensorMap;
  timeoutMs?: number;
  /** Most calls this tenant may have pending (its quota). */
  maxPending?: number;
  signal?: AbortSignal;
}

interface Model {
  name: string;
  config: ResolvedModelConfig;
  queue: FairBatchQueue<Call>;
  plan?: ModelPlan;
  signature?: ModelSignature;
  device?: Device;
  fallback?: string;
  /** How "auto" chose the device, when it timed them. */
  choice?: string;
  error?: string;
  calls: number;
  batches: number;
  failedBatches: number;
  /** Batches stopped (their worker replaced) because every caller gave up and they ran on. */
  stoppedBatches: number;
}

/**
 * Where batches run. CPU models share `workers` threads. Models on an accelerator get one thread
 * of their own, one batch at a time: a GPU's runs are serialized anyway (one WebGPU run at a time
 * in the process, gpu-turns.ts), its weights then load once rather than once per worker (each
 * load holds the GPU for ~250 ms for the bench's 84 MB MLP), and CPU batches never queue behind
 * GPU ones.
 */
interface Lane {
  piscina: Piscina;
  capacity: number;
  inFlight: number;
}

interface Batch {
  live: number;
  cancel: AbortController;
  /** The worker answered (or failed): nothing left to stop. */
  done: boolean;
}

/**
 * How long a batch whose every caller gave up (timeout, abort) may run on before its worker is
 * replaced. Most are about to end: replacing a worker reloads its runtime and models (hundreds of
 * ms, one worker here), which a tenant timing its calls out on purpose made everyone pay.
 */
const ABANDONED_BATCH_GRACE_MS = 250;

interface Call extends QueuedCall {
  model: Model;
  inputs: TensorMap | undefined;
  settled: boolean;
  batch?: Batch;
  resolve(outputs: TensorMap): void;
  reject(err: Error): void;
  cleanup(): void;
}

export interface ModelInfo {
  name: string;
  backend: string;
  device?: Device;
  signature?: ModelSignature;
  error?: string;
}

function infoOf(m: Model): ModelInfo {
  return {
    name: m.name,
    backend: m.config.backend,
    ...(m.device && { device: m.device }),
    ...(m.signature && { signature: m.signature }),
    ...(m.error && { error: m.error }),
  };
}

/**
 * The bytes a call of `rows` rows makes at least, from the outputs' declared shapes: the batch
 * dimension of a row-batched model is its rows; other free dimensions count as 1, and a model
 * batched by call counts its fixed dimensions only.
 */
function outputBytes(signature: ModelSignature, rows: number): number {
  let bytes = 0;
  for (const spec of Object.values(signature.outputs)) {
    if (spec.dtype === 'string') continue;
    const dims = spec.shape.map((d, i) => d ?? (i === 0 && signature.batching === 'rows' ? rows : 1));
    bytes += elementCount(dims) * bytesPerElement(spec.dtype);
  }
  return bytes;
}

const WORKER = ownFile('./worker', import.meta.url).href;
/** One for the process, shared by every pool's workers: WebGPU runs one at a time (gpu-turns.ts). */
const GPU_TURNS = createTurnWord();
const nowUs = () => performance.now() * 1000;

export class AccelPool {
  /** Settles once the workers have probed the machine and described every model. */
  readonly ready: Promise<void>;
  readonly workers: number;
  readonly #logger: Logger;
  readonly #cpuLane: Lane;
  #acceleratorLane: Lane | undefined;
  readonly #workerData: WorkerData;
  readonly #models = new Map<string, Model>();
  readonly #pending = new Map<string, number>();
  readonly #configured: Record<string, ResolvedModelConfig>;
  readonly #batching: boolean;
  #started = false;
  #capabilities: Capabilities = {};
  #startError: string | undefined;
  #cursor = 0;
  #wake: { cancel(): void } | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #pumpScheduled = false;

  constructor(options: AccelPoolOptions = {}) {
    this.#logger = options.logger ?? silentLogger();
    this.#configured = checkModels(options.models);
    this.#batching = options.batching ?? true;
    this.workers = options.workers ?? accelWorkers(availableParallelism());
    if (!Number.isInteger(this.workers) || this.workers < 1) throw new RangeError('workers must be a positive integer');
    this.#workerData = { backendModules: options.backendModules ?? [], gpuTurns: GPU_TURNS };
    this.#cpuLane = this.#lane(this.workers);
    const workerProbe = () => this.#cpuLane.piscina.run({ op: 'probe' } satisfies WorkerTask) as Promise<ProbeReply>;
    this.ready = (options.probe ? options.probe(workerProbe) : workerProbe())
      .then((probe) => this.#describe(probe))
      .catch((err: unknown) => {
        this.#startError = err instanceof Error ? err.message : String(err);
        this.#logger.error({ err: this.#startError }, 'accelerator pool failed to start');
      })
      .finally(() => {
        this.#started = true;
      });
  }

  async #describe(probe: ProbeReply): Promise<void> {
    this.#capabilities = probe.capabilities;
    const configs: Record<string, ResolvedModelConfig> = {};
    for (const [name, backend] of Object.entries(probe.builtins)) configs[name] = builtinModelConfig(backend);
    Object.assign(configs, this.#configured);
    const plans: ModelPlan[] = [];
    for (const [name, config] of Object.entries(configs)) {
      const batchOptions = this.#batching ? config : { ...config, maxBatch: 1, maxWaitUs: 0 };
      const model: Model = { name, config, queue: new FairBatchQueue({ ...batchOptions, maxBatchCost: batchOptions.maxBatchBytes }), calls: 0, batches: 0, failedBatches: 0, stoppedBatches: 0 };
      const selected = selectDevice(name, batchOptions, this.#capabilities);
      model.error = selected.error;
      model.fallback = selected.fallback;
      model.plan = selected.plan;
      if (selected.plan) plans.push(selected.plan);
      this.#models.set(name, model);
    }
    // Models planned on an accelerator load (and are timed against the CPU) in its lane.
    const accelerated = plans.filter((p) => p.device !== 'cpu');
    if (accelerated.length) this.#acceleratorLane = this.#lane(1);
    const describe = (lane: Lane | undefined, list: ModelPlan[]) =>
      (lane && list.length ? lane.piscina.run({ op: 'describe', plans: list } satisfies WorkerTask) : Promise.resolve([])) as Promise<Description[]>;
    const described = (await Promise.all([
      describe(this.#cpuLane, plans.filter((p) => p.device === 'cpu')),
      describe(this.#acceleratorLane, accelerated),
    ])).flat();
    for (const d of described) {
      const model = this.#models.get(d.name)!;
      if (!d.ok) {
        model.error = `failed to load: ${d.error}`;
        continue;
      }
      model.signature = d.signature;
      model.device = d.device;
      model.choice = d.choice;
      if (d.fallback) model.fallback = [model.fallback, d.fallback].filter(Boolean).join('; ');
      // Every worker loads the model where the first one ended up: no worker times the devices
      // again or retries one that failed, and all give the same numbers.
      const { compare: _timed, ...plan } = model.plan!;
      model.plan = { ...plan, device: d.device };
    }
    // Every model that was timed or fell back chose the CPU: the lane has nothing left to run.
    if (this.#acceleratorLane && ![...this.#models.values()].some((m) => m.device && m.device !== 'cpu')) {
      const idle = this.#acceleratorLane;
      this.#acceleratorLane = undefined;
      await idle.piscina.destroy();
    }
    for (const m of this.#models.values()) {
      const fields = { model: m.name, backend: m.config.backend, device: m.device, fallback: m.fallback, choice: m.choice };
      if (m.error) this.#logger.error({ ...fields, error: m.error }, 'accelerator model unavailable');
      else if (m.fallback) this.#logger.warn(fields, 'accelerator model runs on a fallback device');
      else this.#logger.info(fields, 'accelerator model ready');
    }
  }

  #lane(threads: number): Lane {
    const piscina = new Piscina({
      filename: WORKER,
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      workerData: this.#workerData,
    });
    return { piscina, capacity: threads, inFlight: 0 };
  }

  #laneOf(model: Model): Lane {
    return model.device && model.device !== 'cpu' && this.#acceleratorLane ? this.#acceleratorLane : this.#cpuLane;
  }

  /** The models a call may name, with where they run and what they take. */
  async models(): Promise<ModelInfo[]> {
    await this.ready;
    return [...this.#models.values()].map(infoOf);
  }

  /** Calls `tenant` has queued or running. */
  pendingCalls(tenant: string): number {
    return this.#pending.get(tenant) ?? 0;
  }

  async model(name: string): Promise<ModelInfo | undefined> {
    if (!this.#started) await this.ready;
    // A pool that failed to start has no models: its callers were told their model's name was
    // unknown ("available: none"). The reason (a library's path) is the log's and the status's.
    if (this.#startError) throw new BackendError('the accelerator pool is unavailable on this host');
    const model = this.#models.get(name);
    return model && infoOf(model);
  }

  /** Runs one call; rejects with a typed AccelError. */
  async run(request: RunRequest): Promise<TensorMap> {
    if (!this.#started) await this.ready;
    if (this.#closed) throw new AbortedError('the accelerator pool is closed');
    if (this.#startError) throw new BackendError('the accelerator pool is unavailable on this host');
    const model = this.#models.get(request.model);
    if (!model) throw new UnknownModelError(request.model, [...this.#models.keys()]);
    // The reason (a path, a library's words) is in the log and the status, not in what callers see.
    if (model.error) throw new BackendError(`model "${model.name}" is unavailable on this host`);
    const rows = checkInputs(model.name, model.signature!, request.inputs);
    const maxPending = request.maxPending ?? ACCEL_DEFAULTS.maxPending;
    const pending = this.#pending.get(request.tenant) ?? 0;
    if (pending >= maxPending) throw new QuotaExceededError(request.tenant, maxPending);
    const signal = request.signal;
    if (signal?.aborted) throw new AbortedError('the call was aborted before it started');
    const timeoutMs = request.timeoutMs ?? ACCEL_DEFAULTS.timeoutMs;

    return new Promise<TensorMap>((resolve, reject) => {
      // What the call weighs against maxBatchBytes: its inputs, and the outputs its rows will make
      // where the signature says (a row of embeddings is 1 KB from a few bytes of text: 64 calls
      // of 16,000 one-letter texts made batches of 112 MB of outputs, 0.3 GB on the host at once).
      let cost = 1 + outputBytes(model.signature!, rows);
      for (const name in request.inputs) cost += tensorBytes(request.inputs[name]!, STRING_OVERHEAD_BYTES);
      const call: Call = {
        tenant: request.tenant, queuedUs: nowUs(), cost, model, inputs: request.inputs, settled: false, resolve, reject, cleanup: () => {},
      };
      const overloaded = () => new OverloadedError(model.name, model.queue.options.maxQueued);
      // A full queue refuses this call, or answers overloaded to the newest call of a tenant with
      // more queued than this one (FairBatchQueue.push).
      if (!model.queue.push(call, (displaced) => this.#settle(displaced, overloaded()))) {
        reject(overloaded());
        return;
      }
      this.#pending.set(request.tenant, pending + 1);
      const timer = setTimeout(() => this.#cancel(call, new AccelTimeoutError(model.name, timeoutMs)), timeoutMs);
      const onAbort = () => this.#cancel(call, new AbortedError('the call was aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      call.cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.#schedulePump();
    });
  }

  #settle(call: Call, outcome: TensorMap | Error): void {
    if (call.settled) return;
    call.settled = true;
    call.cleanup();
    const left = (this.#pending.get(call.tenant) ?? 1) - 1;
    if (left > 0) this.#pending.set(call.tenant, left);
    else this.#pending.delete(call.tenant);
    if (outcome instanceof Error) call.reject(outcome);
    else call.resolve(outcome);
  }

  /** A timeout or abort: a queued call leaves its queue; a running one is answered now, and its
   * batch is stopped (its worker replaced) once no caller is left waiting for it. */
  #cancel(call: Call, reason: Error): void {
    if (call.settled) return;
    const wasQueued = call.model.queue.remove(call);
    this.#settle(call, reason);
    if (!wasQueued && call.batch && --call.batch.live === 0) {
      const { batch, model } = call;
      setTimeout(() => {
        if (batch.done || this.#closed) return;
        model.stoppedBatches++;
        this.#logger.warn({ model: model.name }, 'every caller of a running batch gave up and it ran on: stopping it and replacing its worker');
        batch.cancel.abort();
      }, ABANDONED_BATCH_GRACE_MS).unref();
    }
  }

  /**
   * Pumps after this event-loop turn's I/O: calls that arrive together (from one isolate's batch
   * of requests, or from many isolates' callbacks) join one batch even with maxWaitUs 0.
   */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Sends out batches while lanes have free workers: the first ready model after the last one served. */
  #pump = (): void => {
    this.#wake?.cancel();
    this.#wake = undefined;
    while (!this.#closed) {
      const models = [...this.#models.values()];
      const now = nowUs();
      let soonest = Infinity;
      let picked: Model | undefined;
      for (let k = 0; k < models.length; k++) {
        const model = models[(this.#cursor + k) % models.length]!;
        // A full lane's models wait: the lane pumps again when a batch ends.
        const lane = this.#laneOf(model);
        if (lane.inFlight >= lane.capacity) continue;
        const wait = model.queue.waitUs(now);
        if (wait === 0) {
          picked = model;
          this.#cursor = (this.#cursor + k + 1) % models.length;
          break;
        }
        soonest = Math.min(soonest, wait);
      }
      if (!picked) {
        if (soonest !== Infinity) this.#wakeIn(soonest);
        return;
      }
      this.#dispatch(picked, picked.queue.take());
    }
  };

  #wakeIn(us: number): void {
    // Under a millisecond, setTimeout would wait a whole one: check again next loop turn instead.
    if (us < 1000) {
      const handle = setImmediate(this.#pump);
      this.#wake = { cancel: () => clearImmediate(handle) };
    } else {
      const handle = setTimeout(this.#pump, Math.floor(us / 1000));
      this.#wake = { cancel: () => clearTimeout(handle) };
    }
  }

  #dispatch(model: Model, calls: Call[]): void {
    const lane = this.#laneOf(model);
    lane.inFlight++;
    model.batches++;
    model.calls += calls.length;
    const batch: Batch = { live: calls.length, cancel: new AbortController(), done: false };
    const inputs = calls.map((c) => {
      c.batch = batch;
      const map = c.inputs!;
      c.inputs = undefined;
      return map;
    });
    const task: WorkerTask = { op: 'run', plan: model.plan!, calls: inputs };
    lane.piscina
      .run(task, { transferList: buffersOf(inputs), signal: batch.cancel.signal })
      .then(
        (results: (TensorMap | CallFailure)[] | Unavailable) => {
          if (!Array.isArray(results)) {
            // As at start (run): the reason, a path on this host, goes to the log, not to tenants.
            model.failedBatches++;
            this.#logger.error({ model: model.name, calls: calls.length, error: results.unavailable }, 'accelerator model failed to load in a worker');
            for (const call of calls) this.#settle(call, new BackendError(`model "${model.name}" is unavailable on this host`));
            return;
          }
          calls.forEach((call, i) => {
            const r = results[i]!;
            this.#settle(call, typeof (r as CallFailure).error === 'string' ? new BadInputError(`model "${model.name}": ${(r as CallFailure).error}`) : (r as TensorMap));
          });
        },
        (err: unknown) => {
          if (batch.cancel.signal.aborted) return;
          if (this.#closed) {
            for (const call of calls) this.#settle(call, new AbortedError('the accelerator pool closed while the call ran'));
            return;
          }
          model.failedBatches++;
          const message = err instanceof Error ? err.message : String(err);
          this.#logger.error({ model: model.name, calls: calls.length, err: message }, 'accelerator batch failed');
          const failure = new BackendError(`model "${model.name}" failed on a batch of ${calls.length} call(s): ${message}`);
          for (const call of calls) this.#settle(call, failure);
        },
      )
      .finally(() => {
        batch.done = true;
        lane.inFlight--;
        this.#pump();
      });
  }

  /** Each model's counts, for /_islet/metrics (observe/metrics.ts). */
  *gauges(): Iterable<ModelGauges> {
    for (const m of this.#models.values()) {
      yield { name: m.name, queued: m.queue.size, calls: m.calls, batches: m.batches, failedBatches: m.failedBatches, stoppedBatches: m.stoppedBatches };
    }
  }

  status(): Record<string, unknown> {
    const models = Object.fromEntries([...this.#models.values()].map((m) => [m.name, {
      backend: m.config.backend,
      device: m.device ?? null,
      ...(m.fallback && { fallback: m.fallback }),
      ...(m.choice && { choice: m.choice }),
      ...(m.error && { error: m.error }),
      maxBatch: m.queue.options.maxBatch,
      maxWaitUs: m.queue.options.maxWaitUs,
      queued: m.queue.size,
      calls: m.calls,
      batches: m.batches,
      meanBatch: m.batches ? Math.round((m.calls / m.batches) * 10) / 10 : 0,
      failedBatches: m.failedBatches,
      stoppedBatches: m.stoppedBatches,
    }]));
    const devices = [...new Set([...this.#models.values()].flatMap((m) => (m.device ? [m.device] : [])))];
    return {
      state: this.#startError ? 'failed' : this.#started ? 'ready' : 'starting',
      ...(this.#startError && { error: this.#startError }),
      workers: this.workers,
      batching: this.#batching,
      devices,
      backends: this.#capabilities,
      ...(this.#acceleratorLane && { acceleratorWorkers: this.#acceleratorLane.capacity }),
      batchesRunning: this.#cpuLane.inFlight + (this.#acceleratorLane?.inFlight ?? 0),
      tenantsWaiting: this.#pending.size,
      models,
    };
  }

  /** Settles once the workers are gone, for every caller: a second close() waits for the first. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#wake?.cancel();
    for (const model of this.#models.values()) {
      while (model.queue.size) for (const call of model.queue.take()) this.#settle(call, new AbortedError('the accelerator pool is closing'));
    }
    await this.ready;
    await Promise.all([this.#cpuLane.piscina.destroy(), this.#acceleratorLane?.piscina.destroy()]);
  }
}
