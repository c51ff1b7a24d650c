// Checks a call's inputs against the model's signature on the event loop, before the call is
// queued: a bad call is refused alone with a BadInputError, and never reaches (or fails) a batch.
import type { ModelSignature } from './backend.ts';
import { BadInputError } from './errors.ts';
import { bytesPerElement, elementCount, type Tensor, type TensorMap } from './tensor.ts';

/** The call's rows (its size along the batch dimension), or 1 for models batched by call. */
export function checkInputs(model: string, signature: ModelSignature, inputs: TensorMap): number {
  const expected = Object.keys(signature.inputs);
  const given = Object.keys(inputs);
  const missing = expected.filter((n) => !given.includes(n));
  const extra = given.filter((n) => !expected.includes(n));
  if (missing.length || extra.length) {
    throw new BadInputError(`model "${model}" takes inputs ${expected.map((n) => JSON.stringify(n)).join(', ')}`
      + `${missing.length ? `; missing ${missing.join(', ')}` : ''}${extra.length ? `; unknown ${extra.join(', ')}` : ''}`);
  }
  let rows: number | undefined;
  for (const [name, spec] of Object.entries(signature.inputs)) {
    const tensor = inputs[name]!;
    const where = `model "${model}" input "${name}"`;
    if (tensor.dtype !== spec.dtype) throw new BadInputError(`${where} must be ${spec.dtype}, got ${tensor.dtype}`);
    checkShape(where, tensor, spec.shape);
    if (signature.batching === 'rows') {
      if (rows !== undefined && tensor.shape[0] !== rows) throw new BadInputError(`${where} has ${tensor.shape[0]} rows where the other inputs have ${rows}`);
      rows = tensor.shape[0];
    }
  }
  if (rows === 0) throw new BadInputError(`model "${model}" needs at least one row of input`);
  return rows ?? 1;
}

function checkShape(where: string, tensor: Tensor, shape: (number | null)[]): void {
  const show = (s: (number | null)[]) => `[${s.map((d) => d ?? '?').join(', ')}]`;
  if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => shape[i] !== null && d !== shape[i])) {
    throw new BadInputError(`${where} must have shape ${show(shape)}, got ${show(tensor.shape)}`);
  }
  const count = elementCount(tensor.shape);
  const length = tensor.dtype === 'string' ? (tensor.data as string[]).length : (tensor.data as ArrayBuffer).byteLength / bytesPerElement(tensor.dtype);
  if (length !== count) throw new BadInputError(`${where} has ${length} elements, its shape ${show(tensor.shape)} needs ${count}`);
}

/** Fills in a shape the tenant left out (a bare typed array): possible when one dimension is free. */
export function inferShape(spec: (number | null)[], length: number): number[] | undefined {
  const free = spec.filter((d) => d === null).length;
  const fixed = elementCount(spec.filter((d): d is number => d !== null));
  if (free > 1 || fixed === 0 || length % fixed !== 0) return undefined;
  if (free === 0) return length === fixed ? (spec as number[]) : undefined;
  return spec.map((d) => d ?? length / fixed);
}
