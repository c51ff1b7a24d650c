// env.AI, host side: a function's binding to the accelerator pool. It turns what the isolate sent
// (checked here: it comes from tenant code) into tensors, applies the function's settings (which
// models, how many calls pending, how long a call may take) and runs the call in the pool.
import {
  BadInputError, inferShape, isDType, NUMERIC_DTYPES, UnknownModelError, type AccelPool, type ModelInfo, type Tensor,
  type TensorMap,
} from '../accel/index.ts';
import { AccelError, BackendError, QuotaExceededError } from '../accel/errors.ts';
import { tensorBytes } from '../accel/tensor.ts';
import { ConfigError } from '../errors.ts';
import { BINDING_NAME } from '../names.ts';
import type { TenantLog } from '../tiers/tier.ts';
import { ACCEL_DEFAULTS, STRING_OVERHEAD_BYTES } from '../limits.ts';

/** A function's "ai" config: `{}` gives it env.AI with the defaults. */
export interface AiBindingConfig {
  /** The name in env (default "AI"). */
  binding?: string;
  /** Models the function may call (default: every model the pool serves). */
  models?: string[];
  /** Most calls pending at once (default ACCEL_DEFAULTS.maxPending). */
  maxPending?: number;
  /** Longest a call may take, queue included (default ACCEL_DEFAULTS.timeoutMs; never past wallMs). */
  timeoutMs?: number;
}

export type ResolvedAiBinding = Required<Omit<AiBindingConfig, 'models'>> & { models?: string[] };

/** One tensor as the isolate sends it: JSON numbers arrive as dtype "number", a bare typed array with no shape. */
export interface WireTensor {
  name: string;
  dtype: string;
  shape: number[] | null;
  data: ArrayBuffer | unknown[];
}

/** The host end of env.AI that a sandbox calls. */
export interface AiHost {
  /** The name the binding has in env. */
  readonly binding: string;
  /** Most calls the function may have pending (the runtime refuses more before copying inputs out). */
  readonly maxPending: number;
  run(model: string, inputs: WireTensor[], timeoutMs: number | undefined, signal: AbortSignal): Promise<TensorMap>;
  models(): Promise<ModelInfo[]>;
}


export function checkAiBinding(raw: unknown, env: Record<string, unknown>, where: string): ResolvedAiBinding | undefined {
  if (raw === undefined) return undefined;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where}: "ai" must be an object like {"binding": "AI"}`);
  const { binding = 'AI', models, maxPending = ACCEL_DEFAULTS.maxPending, timeoutMs = ACCEL_DEFAULTS.timeoutMs, ...rest } = raw as Record<string, unknown>;
  if (Object.keys(rest).length) throw new ConfigError(`${where}: unknown ai field(s) ${Object.keys(rest).join(', ')}`);
  if (typeof binding !== 'string' || !BINDING_NAME.test(binding)) throw new ConfigError(`${where}: ai.binding must be a JavaScript identifier`);
  if (Object.hasOwn(env, binding)) throw new ConfigError(`${where}: ai.binding "${binding}" is also an env variable`);
  if (models !== undefined && (!Array.isArray(models) || !models.every((m) => typeof m === 'string'))) throw new ConfigError(`${where}: ai.models must be a list of model names`);
  if (!Number.isInteger(maxPending) || (maxPending as number) < 1 || (maxPending as number) > 100_000) throw new ConfigError(`${where}: ai.maxPending must be an integer from 1 to 100000`);
  if (!Number.isInteger(timeoutMs) || (timeoutMs as number) < 1 || (timeoutMs as number) > 15 * 60_000) throw new ConfigError(`${where}: ai.timeoutMs must be an integer from 1 to 900000`);
  return { binding, maxPending: maxPending as number, timeoutMs: timeoutMs as number, ...(models && { models: models as string[] }) };
}

/** The bounds a sandbox's env.AI checks before a call leaves it: the host's own (it checks them again). */
export function runtimeAiLimits(maxPending: number): Record<string, number> {
  return { maxPending, maxInputBytes: ACCEL_DEFAULTS.maxInputBytes, maxStrings: ACCEL_DEFAULTS.maxStrings, stringOverheadBytes: STRING_OVERHEAD_BYTES };
}

/**
 * What a sandbox tells its tenant of a failed AI call: an AccelError's own code and message; any
 * other failure is a host bug, logged here and told without its details.
 */
export function aiFailure(err: unknown, log: TenantLog): { code: string; message: string } {
  if (err instanceof AccelError) return { code: err.code, message: err.message };
  log.event('error', 'AI call failed inside islet', { error: String((err as Error)?.stack ?? err) });
  return { code: 'backend_error', message: 'the AI call failed inside islet' };
}

export function aiHost(tenant: string, config: ResolvedAiBinding, pool: AccelPool, wallMs: number): AiHost {
  const allowed = config.models && new Set(config.models);
  const ceilingMs = Math.min(config.timeoutMs, wallMs);
  const visible = async () => (await pool.models()).filter((m) => !allowed || allowed.has(m.name));
  return {
    binding: config.binding,
    maxPending: config.maxPending,
    models: visible,
    async run(model, wire, timeoutMs, signal) {
      const info = typeof model === 'string' && (!allowed || allowed.has(model)) ? await pool.model(model) : undefined;
      if (!info) throw new UnknownModelError(String(model), (await visible()).map((m) => m.name));
      // Why it is unavailable (a path on this host, a library's message) is the operator's to
      // read, in the log and /_islet/status, not the tenant's.
      if (info.error) throw new BackendError(`model "${model}" is unavailable on this host`);
      // Before the inputs are converted: a call over the quota costs the host nothing more.
      if (pool.pendingCalls(tenant) >= config.maxPending) throw new QuotaExceededError(tenant, config.maxPending);
      const inputs = tensorsFromWire(model, info, wire);
      const limit = timeoutMs !== undefined && Number.isFinite(timeoutMs) && timeoutMs > 0 ? Math.min(timeoutMs, ceilingMs) : ceilingMs;
      return pool.run({ tenant, model, inputs, timeoutMs: limit, maxPending: config.maxPending, signal });
    },
  };
}

/** The isolate's tensors, checked and converted; shapes are filled in and JSON numbers typed from the model's signature. */
export function tensorsFromWire(model: string, info: ModelInfo, wire: WireTensor[]): TensorMap {
  if (!Array.isArray(wire)) throw new BadInputError('inputs must be an object of name → tensor');
  const out: TensorMap = {};
  let bytes = 0;
  let strings = 0;
  for (const t of wire) {
    const name = String(t?.name);
    // Own names only: "toString" or "__proto__" is no input of any model.
    const inputs = info.signature?.inputs;
    const spec = inputs && Object.hasOwn(inputs, name) ? inputs[name] : undefined;
    const where = `model "${model}" input "${name}"`;
    if (!spec) throw new BadInputError(`model "${model}" has no input "${name}" (its inputs: ${Object.keys(info.signature?.inputs ?? {}).join(', ')})`);
    const tensor = toTensor(where, t, spec.dtype, spec.shape);
    bytes += tensorBytes(tensor, STRING_OVERHEAD_BYTES);
    if (bytes > ACCEL_DEFAULTS.maxInputBytes) throw new BadInputError(`inputs to model "${model}" are larger than ${ACCEL_DEFAULTS.maxInputBytes} bytes`);
    if (Array.isArray(tensor.data)) strings += tensor.data.length;
    if (strings > ACCEL_DEFAULTS.maxStrings) throw new BadInputError(`inputs to model "${model}" hold more than ${ACCEL_DEFAULTS.maxStrings} strings`);
    out[name] = tensor;
  }
  return out;
}

function toTensor(where: string, t: WireTensor, dtype: Tensor['dtype'], specShape: (number | null)[]): Tensor {
  const values = t.data;
  let data: ArrayBuffer | string[];
  if (t.dtype === 'number') {
    // Plain numbers come packed as float64 by the runtime (in the isolate, on the tenant's CPU).
    if (!(values instanceof ArrayBuffer) || values.byteLength % 8 !== 0) throw new BadInputError(`${where}: numbers expected`);
    if (dtype === 'string') throw new BadInputError(`${where} takes strings, got numbers`);
    data = numbersTo(where, dtype, new Float64Array(values));
  } else if (t.dtype === 'string') {
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) throw new BadInputError(`${where}: strings expected`);
    data = values as string[];
  } else if (isDType(t.dtype) && values instanceof ArrayBuffer) {
    if (values.byteLength % NUMERIC_DTYPES[t.dtype as keyof typeof NUMERIC_DTYPES].BYTES_PER_ELEMENT !== 0) throw new BadInputError(`${where}: data does not fit its dtype`);
    data = values;
  } else {
    throw new BadInputError(`${where}: a typed array, numbers or strings expected`);
  }
  const tensorDtype = t.dtype === 'number' ? dtype : (t.dtype as Tensor['dtype']);
  const length = Array.isArray(data) ? data.length : data.byteLength / NUMERIC_DTYPES[tensorDtype as keyof typeof NUMERIC_DTYPES].BYTES_PER_ELEMENT;
  let shape = t.shape;
  if (shape === null) {
    shape = inferShape(specShape, length) ?? null;
    if (!shape) throw new BadInputError(`${where}: give a shape; ${length} elements do not fit [${specShape.map((d) => d ?? '?').join(', ')}] one way only`);
  } else if (!Array.isArray(shape) || shape.length > 8 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new BadInputError(`${where}: shape must be a list of at most 8 whole numbers`);
  }
  return { dtype: tensorDtype, shape, data };
}

/** Whole-number ranges of the integer dtypes: a value outside is refused, not wrapped (2**32 + 1 is no int32 1). */
const INTEGER_RANGES: Partial<Record<keyof typeof NUMERIC_DTYPES, [number, number]>> = {
  int8: [-(2 ** 7), 2 ** 7 - 1], uint8: [0, 2 ** 8 - 1], int16: [-(2 ** 15), 2 ** 15 - 1], uint16: [0, 2 ** 16 - 1],
  int32: [-(2 ** 31), 2 ** 31 - 1], uint32: [0, 2 ** 32 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], uint64: [0, Number.MAX_SAFE_INTEGER],
};

function numbersTo(where: string, dtype: keyof typeof NUMERIC_DTYPES, values: Float64Array): ArrayBuffer {
  const range = INTEGER_RANGES[dtype];
  if (range) {
    const [min, max] = range;
    for (const v of values) {
      if (!Number.isInteger(v) || v < min || v > max) throw new BadInputError(`${where} takes whole numbers from ${min} to ${max}, got ${v}`);
    }
  }
  if (dtype === 'int64' || dtype === 'uint64') return NUMERIC_DTYPES[dtype].from(Array.from(values, BigInt)).buffer as ArrayBuffer;
  return NUMERIC_DTYPES[dtype].from(values).buffer as ArrayBuffer;
}
