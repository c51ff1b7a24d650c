// env.AI's tenant side, in any realm: the binding's checks, the packing of inputs into whole
// ArrayBuffers, typed AIErrors, and the unpacking of answers. How a call reaches the host is the
// realm's (an AiTransport): isolated-vm callbacks in an isolate (ai.ts), frames in a process
// sandbox (engine/tiers/process/sandbox-runtime.ts). Only classes and functions are defined at
// load time, so this module can sit in the runtime's V8 snapshot.
import { plainArray } from '../web/plain-bytes.ts';
import { NO_MEMBERS } from '../webidl/null-prototype.ts';

/** What one input or output looks like to the tenant. */
export interface AiTensor {
  dtype: string;
  shape: number[];
  data: ArrayBufferView | string[];
}

const ERROR_NAMES: Record<string, string> = {
  unknown_model: 'AIUnknownModelError',
  bad_input: 'AIInputError',
  quota_exceeded: 'AIQuotaExceededError',
  timeout: 'AITimeoutError',
  overloaded: 'AIOverloadedError',
  aborted: 'AIAbortedError',
  backend_error: 'AIBackendError',
};

/** An AI call failed: `code` is one of unknown_model, bad_input, quota_exceeded, timeout, overloaded, aborted, backend_error. */
export class AIError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = ERROR_NAMES[code] ?? 'AIBackendError';
  }
}

const DTYPES: [string, new (buffer: ArrayBuffer) => ArrayBufferView][] = [
  ['float32', Float32Array], ['float64', Float64Array], ['int8', Int8Array], ['uint8', Uint8Array], ['int16', Int16Array],
  ['uint16', Uint16Array], ['int32', Int32Array], ['uint32', Uint32Array], ['int64', BigInt64Array], ['uint64', BigUint64Array],
];

function dtypeOf(view: ArrayBufferView): string | undefined {
  if (view instanceof Uint8ClampedArray) return 'uint8';
  return DTYPES.find(([, C]) => view instanceof C)?.[0];
}

function arrayOf(dtype: string, buffer: ArrayBuffer): ArrayBufferView {
  const C = DTYPES.find(([name]) => name === dtype)?.[1];
  return C ? new C(buffer) : new Uint8Array(buffer);
}

export interface WireTensor {
  name: string;
  dtype: string;
  shape: number[] | null;
  data: ArrayBuffer | unknown[];
}

/** A typed array's own bytes as one ArrayBuffer: the buffer itself when the view covers all of it. */
function bytesOf(view: ArrayBufferView): ArrayBuffer {
  if (!(view.buffer instanceof ArrayBuffer)) {
    // A SharedArrayBuffer's bytes, copied into an ArrayBuffer of their own (what crosses to the host).
    return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice().buffer;
  }
  const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
  return whole ? view.buffer : view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
}

/**
 * Nested number arrays to one flat list and their shape; undefined when ragged or not numbers.
 * Throws, before flattening copies anything, when the shape its first elements give holds more
 * than `maxNumbers`: a tenant's oversized array would otherwise be copied whole only to be refused
 * (a rectangular array holds exactly that many; a ragged one is refused either way).
 */
function flatten(value: unknown[], where: string, maxNumbers: number): { shape: number[]; data: number[] } | undefined {
  const shape: number[] = [];
  for (let level: unknown = value; Array.isArray(level); level = level[0]) {
    // Deeper than any tensor the host takes: flattening 10,000 levels overflowed a process
    // sandbox's stack (a RangeError, where an isolate answered bad_input).
    if (shape.length === MAX_DIMS) throw new AIError('bad_input', `${where} nests arrays more than ${MAX_DIMS} deep; a tensor has at most ${MAX_DIMS} dimensions`);
    shape.push(level.length);
  }
  const count = shape.reduce((n, d) => n * d, 1);
  if (count > maxNumbers) throw new AIError('bad_input', `${where} has ${count} numbers; plain arrays may hold ${maxNumbers} (pass a typed array)`);
  const data = (value as unknown[]).flat(shape.length) as unknown[];
  if (!data.every((v) => typeof v === 'number') || data.length !== shape.reduce((n, d) => n * d, 1)) return undefined;
  return { shape, data: data as number[] };
}

function toWire(name: string, value: unknown): WireTensor {
  const where = `AI.run: input "${name}"`;
  if (typeof value === 'string') return { name, dtype: 'string', shape: [1], data: [value] };
  if (typeof value === 'number') return { name, dtype: 'number', shape: [], data: Float64Array.of(value).buffer };
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const dtype = dtypeOf(value);
    if (!dtype) throw new TypeError(`${where}: unsupported typed array`);
    return { name, dtype, shape: null, data: bytesOf(value) };
  }
  if (Array.isArray(value)) {
    if (value.length === 0) throw new AIError('bad_input', `${where} is empty`);
    if (value.every((v) => typeof v === 'string')) return { name, dtype: 'string', shape: [value.length], data: value };
    // Refused in flatten past MAX_PLAIN_NUMBERS, before a copy: the host would refuse it past its
    // input limit anyway.
    const flat = flatten(value, where, MAX_PLAIN_NUMBERS);
    if (!flat) throw new TypeError(`${where}: an array must hold strings, or numbers in a rectangular nesting`);
    // Packed here, on the tenant's CPU: a plain array crossing element by element, then checked
    // and converted on the host, cost the host's event loop seconds for a few million numbers.
    return { name, dtype: 'number', shape: flat.shape, data: Float64Array.from(flat.data).buffer };
  }
  if (value !== null && typeof value === 'object' && 'data' in value) {
    const { data, shape } = value as { data: unknown; shape?: unknown };
    const inner = toWire(name, data);
    if (shape === undefined) return inner;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new TypeError(`${where}: shape must be a list of whole numbers`);
    return { ...inner, shape: [...shape] };
  }
  throw new TypeError(`${where} must be a typed array, numbers, strings, or { data, shape }`);
}

/** Dimensions a tensor may have: the host's bound (engine/bindings/ai-binding.ts). */
const MAX_DIMS = 8;

/** Plain numbers one input may hold: the host's 16 MB input limit at 4 bytes a number. */
const MAX_PLAIN_NUMBERS = 4 * 1024 * 1024;

/**
 * The host's bounds on one call (engine/limits.ts ACCEL_DEFAULTS and STRING_OVERHEAD_BYTES), given
 * with the binding: the runtime checks them too, so that a call past them costs the host no copy.
 */
export interface AiLimits {
  maxPending: number;
  maxInputBytes: number;
  maxStrings: number;
  stringOverheadBytes: number;
}

// Captured at load: the sizes below are counted in the tenant's realm, where Array.isArray, an
// array's iterator and ArrayBuffer's instanceof can be replaced. With `for…of` patched, one call
// of 200 strings of 1 MB went to the host (390 MB there) past the 16 MB input limit.
const isArray = Array.isArray;
const byteLengthOf = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get!;
const { apply } = Reflect;

/**
 * The inputs as they will cross, rebuilt here from plain values only (fresh arrays of the strings
 * and numbers counted, never the tenant's own arrays, whose named properties isolated-vm would
 * copy too: a probe sent 1 GB through `text.pad`), with what the host will count them as, at
 * least: typed arrays by their bytes (plain numbers at 4 bytes each, as packed), strings as it
 * weighs them, names and shapes too; Infinity for what cannot be measured.
 */
function checkedWire(wire: WireTensor[], stringOverheadBytes: number): { wire: WireTensor[]; bytes: number; strings: number } {
  // Filled by index into arrays with no prototype (plainArray): a setter on Array.prototype for an
  // index hung 64 MB strings on the copies as named properties, for the host to copy too.
  const out = plainArray<WireTensor>();
  let bytes = 0;
  let strings = 0;
  if (!isArray(wire)) return { wire: out, bytes: Infinity, strings: Infinity };
  for (let i = 0; i < wire.length; i++) {
    const t = wire[i]!;
    const name: unknown = t.name, dtype: unknown = t.dtype, shape: unknown = t.shape, data: unknown = t.data;
    if (typeof name !== 'string' || typeof dtype !== 'string' || dtype.length > 16) return { wire: out, bytes: Infinity, strings };
    bytes += name.length * 2;
    let shapeCopy: number[] | null = null;
    if (shape !== null) {
      if (!isArray(shape)) return { wire: out, bytes: Infinity, strings };
      shapeCopy = plainArray<number>();
      for (let j = 0; j < shape.length; j++) {
        const d: unknown = shape[j];
        if (typeof d !== 'number') return { wire: out, bytes: Infinity, strings };
        shapeCopy[j] = d;
      }
      bytes += shapeCopy.length * 8;
    }
    let dataCopy: ArrayBuffer | string[];
    if (isArray(data)) {
      const texts = plainArray<string>();
      for (let j = 0; j < data.length; j++) {
        const text: unknown = data[j];
        if (typeof text !== 'string') return { wire: out, bytes: Infinity, strings };
        texts[j] = text;
        bytes += text.length * 2 + stringOverheadBytes;
      }
      strings += texts.length;
      dataCopy = texts;
    } else {
      let length: number;
      try {
        length = apply(byteLengthOf, data, []) as number;
      } catch {
        return { wire: out, bytes: Infinity, strings };
      }
      bytes += dtype === 'number' ? length / 2 : length;
      dataCopy = data as ArrayBuffer;
    }
    out[i] = { name, dtype, shape: shapeCopy, data: dataCopy } as WireTensor;
  }
  return { wire: out, bytes, strings };
}

/** The longest model name a call may give: names are short ('@islet/embed-text'). */
const MAX_MODEL_NAME = 256;

/** How a realm's env.AI reaches the host. */
export interface AiTransport {
  /** Whether `value` is this realm's AbortSignal. */
  isSignal(value: unknown): boolean;
  /** AI calls of this sandbox waiting for the host (the quota check). */
  readonly pending: number;
  /**
   * Sends one call whose inputs weigh `bytes` (as maxInputBytes counts them); resolves with its
   * outputs, rejects with an AIError or the signal's reason.
   */
  call(model: string, wire: WireTensor[], timeoutMs: number | null, signal: unknown, bytes: number): Promise<Record<string, AiTensor>>;
}

export class Ai {
  readonly #limits: AiLimits;
  readonly #transport: AiTransport;

  constructor(limits: AiLimits, transport: AiTransport) {
    this.#limits = limits;
    this.#transport = transport;
  }

  /** Runs `model` on `inputs` (name → typed array, numbers, strings or { data, shape }). */
  run(model: unknown, inputs: unknown, options?: unknown): Promise<Record<string, AiTensor>> {
    if (typeof model !== 'string') return Promise.reject(new TypeError('AI.run: the model must be a name (a string)'));
    if (model.length > MAX_MODEL_NAME) return Promise.reject(new AIError('unknown_model', `AI.run: a model name is at most ${MAX_MODEL_NAME} characters`));
    if (inputs === null || typeof inputs !== 'object' || Array.isArray(inputs) || ArrayBuffer.isView(inputs)) {
      return Promise.reject(new TypeError('AI.run: inputs must be an object of input name → tensor'));
    }
    const { timeoutMs, signal } = (options ?? NO_MEMBERS) as { timeoutMs?: unknown; signal?: unknown };
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) return Promise.reject(new TypeError('AI.run: timeoutMs must be a positive number'));
    if (signal !== undefined && !this.#transport.isSignal(signal)) return Promise.reject(new TypeError('AI.run: signal must be an AbortSignal'));
    if ((signal as { aborted?: boolean } | undefined)?.aborted) return Promise.reject((signal as { reason: unknown }).reason);
    // The host checks both again; refused here, a call costs it no copy of its inputs.
    const limits = this.#limits;
    if (this.#transport.pending >= limits.maxPending) {
      return Promise.reject(new AIError('quota_exceeded', `this function already has ${limits.maxPending} AI calls pending, its quota (ai.maxPending)`));
    }
    let wire: WireTensor[];
    try {
      wire = Object.entries(inputs).map(([name, value]) => toWire(name, value));
    } catch (err) {
      return Promise.reject(err);
    }
    const size = checkedWire(wire, limits.stringOverheadBytes);
    if (!(size.bytes <= limits.maxInputBytes)) {
      return Promise.reject(new AIError('bad_input', `inputs to model "${model}" are larger than ${limits.maxInputBytes} bytes`));
    }
    if (!(size.strings <= limits.maxStrings)) {
      return Promise.reject(new AIError('bad_input', `inputs to model "${model}" hold more than ${limits.maxStrings} strings`));
    }
    return this.#transport.call(model, size.wire, timeoutMs ?? null, signal, size.bytes);
  }

  get [Symbol.toStringTag]() {
    return 'Ai';
  }
}

/** One output as the host describes it: [name, dtype, shape, strings | null]; numeric ones' buffers follow in order. */
export type OutputMeta = [string, string, number[], string[] | null];

/** A call's answer as the tenant sees it: typed arrays over the numeric outputs' buffers, in order. */
export function outputsOf(meta: OutputMeta[], buffers: ArrayBuffer[]): Record<string, AiTensor> {
  const outputs: Record<string, AiTensor> = {};
  let next = 0;
  for (const [name, dtype, shape, strings] of meta) {
    outputs[name] = { dtype, shape, data: strings ?? arrayOf(dtype, buffers[next++]!) };
  }
  return outputs;
}
