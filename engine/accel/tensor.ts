// Tensors as they travel between the host, the pool's workers and the backends: a dtype, a shape
// and the data as one ArrayBuffer (transferable, never copied element by element), or a string
// list for text inputs. Also the row-wise concatenation and split that batching is made of.

export const NUMERIC_DTYPES = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
} as const;

export type NumericDType = keyof typeof NUMERIC_DTYPES;
export type DType = NumericDType | 'string';
export type TypedArray = InstanceType<(typeof NUMERIC_DTYPES)[NumericDType]>;

export interface Tensor {
  dtype: DType;
  shape: number[];
  /** Numeric dtypes: the elements in one ArrayBuffer, row-major. string: one entry per element. */
  data: ArrayBuffer | string[];
}

export type TensorMap = Record<string, Tensor>;

/** What a tensor weighs, as the accelerator's bounds count it: its bytes, or per string its UTF-16 bytes and `stringOverhead`. */
export function tensorBytes(tensor: Tensor, stringOverhead: number): number {
  if (tensor.data instanceof ArrayBuffer) return tensor.data.byteLength;
  let bytes = 0;
  for (const s of tensor.data) bytes += s.length * 2 + stringOverhead;
  return bytes;
}

/** A declared input or output: `null` in a shape is a dimension of any size. */
export interface TensorSpec {
  dtype: DType;
  shape: (number | null)[];
}

export function isDType(value: unknown): value is DType {
  return value === 'string' || (typeof value === 'string' && Object.hasOwn(NUMERIC_DTYPES, value));
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

export function bytesPerElement(dtype: NumericDType): number {
  return NUMERIC_DTYPES[dtype].BYTES_PER_ELEMENT;
}

/** A typed view of a numeric tensor's data. */
export function view(tensor: Tensor): TypedArray {
  if (tensor.dtype === 'string' || !(tensor.data instanceof ArrayBuffer)) throw new TypeError('not a numeric tensor');
  return new NUMERIC_DTYPES[tensor.dtype](tensor.data);
}

/** A tensor owning a copy of `array`'s elements (or the array's buffer itself when it spans it all). */
export function fromTyped(dtype: NumericDType, shape: number[], array: TypedArray): Tensor {
  const whole = array.byteOffset === 0 && array.byteLength === array.buffer.byteLength && array.buffer instanceof ArrayBuffer;
  return { dtype, shape, data: whole ? (array.buffer as ArrayBuffer) : (array.slice().buffer as ArrayBuffer) };
}

/** The ArrayBuffers in `maps`, each once: what a postMessage can transfer instead of copying. */
export function buffersOf(maps: readonly TensorMap[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const map of maps) for (const t of Object.values(map)) if (t.data instanceof ArrayBuffer) out.add(t.data);
  return [...out];
}

/** Joins the calls' tensors named `name` along dimension 0 (the calls were checked to agree on the rest). */
export function concatRows(tensors: readonly Tensor[]): Tensor {
  const first = tensors[0]!;
  const rows = tensors.reduce((n, t) => n + t.shape[0]!, 0);
  const shape = [rows, ...first.shape.slice(1)];
  if (first.dtype === 'string') return { dtype: 'string', shape, data: tensors.flatMap((t) => t.data as string[]) };
  if (tensors.length === 1) return first;
  const out = new Uint8Array(tensors.reduce((n, t) => n + (t.data as ArrayBuffer).byteLength, 0));
  let offset = 0;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data as ArrayBuffer), offset);
    offset += (t.data as ArrayBuffer).byteLength;
  }
  return { dtype: first.dtype, shape, data: out.buffer };
}

/** Cuts `tensor` along dimension 0 into pieces of `rows[i]` rows, each with its own buffer. */
export function splitRows(tensor: Tensor, rows: readonly number[]): Tensor[] {
  const rest = tensor.shape.slice(1);
  const perRow = elementCount(rest);
  let start = 0;
  return rows.map((n) => {
    const shape = [n, ...rest];
    const [from, to] = [start * perRow, (start + n) * perRow];
    start += n;
    if (tensor.dtype === 'string') return { dtype: 'string', shape, data: (tensor.data as string[]).slice(from, to) };
    const size = bytesPerElement(tensor.dtype);
    return { dtype: tensor.dtype, shape, data: (tensor.data as ArrayBuffer).slice(from * size, to * size) };
  });
}
