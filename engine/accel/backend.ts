// The one interface every backend implements. Backends live in the pool's worker threads: they
// probe what the machine offers, load a model once per worker, and run a batch of calls.
import type { TensorMap, TensorSpec } from './tensor.ts';

export type Device = 'cpu' | 'cuda' | 'webgpu';

/** How a batch of calls is run: rows are joined along dimension 0 into one run, or calls run one by one. */
export type Batching = 'rows' | 'calls';

export interface ModelSignature {
  /** For `rows` models, every input and output has the batch as its first (null) dimension. */
  inputs: Record<string, TensorSpec>;
  outputs: Record<string, TensorSpec>;
  batching: Batching;
}

/** What a backend found on this machine. */
export interface BackendCapabilities {
  available: boolean;
  /** Devices it can run on here, best first. */
  devices: Device[];
  /** Version, why it is unavailable, what a device lacks: for the status page and logs. */
  detail?: string;
}

export type Capabilities = Record<string, BackendCapabilities>;

/** A model as the worker is told to load it: the config entry with its backend and device decided. */
export interface ModelPlan {
  name: string;
  backend: string;
  device: Device;
  /** File to load, for backends that read one. */
  path?: string;
  /** The config's backend-specific settings. */
  options?: Record<string, unknown>;
  /**
   * Set when "auto" planned an accelerator: time it against the CPU on a batch of `rows` rows and
   * keep the faster (a GPU's fixed cost per run can outweigh its speed on a small model).
   */
  compare?: { rows: number };
}

/** One call's inputs made sense to the signature but not to the model (told to that caller only). */
export interface CallFailure {
  error: string;
}

export interface LoadedModel {
  signature: ModelSignature;
  /** Where it actually runs (a backend may fall back from the device it was asked for). */
  device: Device;
  /** Why it runs elsewhere than planned, when it does. */
  fallback?: string;
  /** How "auto" chose between devices, when it timed them. */
  choice?: string;
  /**
   * Runs one batch: `calls[i]` was checked against the signature; the answer has one entry per
   * call, a CallFailure where the model refuses that call alone (the others still get answers).
   */
  run(calls: TensorMap[]): Promise<(TensorMap | CallFailure)[]>;
}

export interface Backend {
  readonly name: string;
  probe(): Promise<BackendCapabilities>;
  load(plan: ModelPlan): Promise<LoadedModel>;
  /** Models this backend provides with no config at all. */
  readonly builtins?: readonly string[];
}
