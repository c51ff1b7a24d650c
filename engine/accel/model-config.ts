// The "models" section of the config: which models the pool serves and how each is batched.
import { ConfigError } from '../errors.ts';
import { ACCEL_DEFAULTS } from '../limits.ts';
import type { Device } from './backend.ts';

export interface ModelConfig {
  /** File the backend loads (an .onnx file for the onnx backend). */
  path?: string;
  /** "auto" (default: onnx for .onnx files) or a backend's name. */
  backend?: string;
  /** "auto" (default: the faster of the backend's accelerator and the CPU here), "cpu", "cuda" or "webgpu". */
  device?: 'auto' | Device;
  maxBatch?: number;
  maxWaitUs?: number;
  maxQueued?: number;
  /** Most bytes one batch carries, inputs and the outputs they will make (ACCEL_DEFAULTS.maxBatchBytes); a bigger call runs alone. */
  maxBatchBytes?: number;
  /** Backend-specific settings, passed to the backend as they are. */
  options?: Record<string, unknown>;
}

export interface ResolvedModelConfig extends Required<Omit<ModelConfig, 'path' | 'options'>> {
  path?: string;
  options?: Record<string, unknown>;
}

/** Built-in models are named @islet/…; configured names may not take that prefix. */
export const BUILTIN_PREFIX = '@islet/';
const NAME = /^[A-Za-z0-9@][\w@.\-/]{0,127}$/;

const DEVICES = ['auto', 'cpu', 'cuda', 'webgpu'] as const satisfies readonly ('auto' | Device)[];

const BOUNDS = { maxBatch: [1, 4096], maxWaitUs: [0, 1_000_000], maxQueued: [1, 1_000_000], maxBatchBytes: [1, 2 ** 31] } as const;

export function checkModels(raw: unknown, where = 'models'): Record<string, ResolvedModelConfig> {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw new ConfigError(`${where} must be an object of name → {path, backend, maxBatch, …}`);
  return Object.fromEntries(Object.entries(raw).map(([name, spec]) => [name, checkModel(name, spec, `${where}: model "${name}"`)]));
}

/** Settings for a built-in model, which takes the defaults. */
export function builtinModelConfig(backend: string): ResolvedModelConfig {
  return { backend, device: 'auto', maxBatch: ACCEL_DEFAULTS.maxBatch, maxWaitUs: ACCEL_DEFAULTS.maxWaitUs, maxQueued: ACCEL_DEFAULTS.maxQueued, maxBatchBytes: ACCEL_DEFAULTS.maxBatchBytes };
}

function checkModel(name: string, spec: unknown, where: string): ResolvedModelConfig {
  if (!NAME.test(name) || name.startsWith(BUILTIN_PREFIX)) {
    throw new ConfigError(`${where}: names are letters, digits and @ . _ - /, at most 128, and may not start with ${BUILTIN_PREFIX}`);
  }
  if (!isObject(spec)) throw new ConfigError(`${where} must be an object`);
  const { path, backend = 'auto', device = 'auto', maxBatch, maxWaitUs, maxQueued, maxBatchBytes, options, ...rest } = spec;
  if (Object.keys(rest).length) throw new ConfigError(`${where}: unknown field(s) ${Object.keys(rest).join(', ')}`);
  if (path !== undefined && (typeof path !== 'string' || !path)) throw new ConfigError(`${where}: "path" must be a file path`);
  if (typeof backend !== 'string' || !backend) throw new ConfigError(`${where}: "backend" must be "auto" or a backend's name`);
  if (backend === 'auto' && !(typeof path === 'string' && path.endsWith('.onnx'))) {
    throw new ConfigError(`${where}: "backend": "auto" needs a "path" to an .onnx file; name the backend otherwise`);
  }
  if (!(DEVICES as readonly unknown[]).includes(device)) throw new ConfigError(`${where}: "device" must be ${DEVICES.map((d) => `"${d}"`).join(', ')}`);
  if (options !== undefined && !isObject(options)) throw new ConfigError(`${where}: "options" must be an object`);
  const numbers = { maxBatch, maxWaitUs, maxQueued, maxBatchBytes };
  for (const [key, value] of Object.entries(numbers)) {
    const [min, max] = BOUNDS[key as keyof typeof BOUNDS];
    if (value !== undefined && (!Number.isInteger(value) || (value as number) < min || (value as number) > max)) {
      throw new ConfigError(`${where}: "${key}" must be an integer from ${min} to ${max}`);
    }
  }
  return {
    ...(path !== undefined && { path: path as string }),
    backend: backend === 'auto' ? 'onnx' : backend,
    device: device as ResolvedModelConfig['device'],
    maxBatch: (maxBatch as number | undefined) ?? ACCEL_DEFAULTS.maxBatch,
    maxWaitUs: (maxWaitUs as number | undefined) ?? ACCEL_DEFAULTS.maxWaitUs,
    maxQueued: (maxQueued as number | undefined) ?? ACCEL_DEFAULTS.maxQueued,
    maxBatchBytes: (maxBatchBytes as number | undefined) ?? ACCEL_DEFAULTS.maxBatchBytes,
    ...(options !== undefined && { options: options as Record<string, unknown> }),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
