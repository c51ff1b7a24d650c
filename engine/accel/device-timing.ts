// How "auto" chooses between an accelerator and the CPU: both run the same batch, the size the
// model will see, a few times in turn, and the faster median wins. Measured, not assumed: on an
// H100 a WebGPU run costs ~2-3 ms whatever its size, so the fixture classifier is 100× faster on
// the CPU while a 21M-parameter MLP is 3.5× faster on the GPU at 32 rows (README).
import type { Device, ModelSignature } from './backend.ts';
import { bytesPerElement, elementCount, type NumericDType, type TensorMap } from './tensor.ts';

export interface Candidate {
  device: Device;
  run(): Promise<unknown>;
}

export interface Timing {
  device: Device;
  medianMs: number;
}

export interface TimingOptions {
  /** Timed runs per candidate, at most. */
  runs?: number;
  /** Stop timing once this much time has gone (every candidate gets at least one timed run). */
  budgetMs?: number;
}

/** Times each candidate (after one untimed run, which pays for shader compiles and first allocations). */
export async function timeDevices(candidates: Candidate[], { runs = 5, budgetMs = 1000 }: TimingOptions = {}): Promise<Timing[]> {
  for (const c of candidates) await c.run();
  const samples = candidates.map((): number[] => []);
  const end = performance.now() + budgetMs;
  // In turn, so a slow patch of a shared machine falls on every candidate alike.
  for (let i = 0; i < runs && (i === 0 || performance.now() < end); i++) {
    for (const [k, c] of candidates.entries()) {
      const t = performance.now();
      await c.run();
      samples[k]!.push(performance.now() - t);
    }
  }
  return candidates.map((c, k) => ({ device: c.device, medianMs: median(samples[k]!) }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[(s.length - 1) >> 1]!;
}

/** The fastest; on a tie the earlier candidate (the accelerator, as planned). */
export function fastest(timings: Timing[]): Timing {
  return timings.reduce((best, t) => (t.medianMs < best.medianMs ? t : best));
}

/** What the status page says of a timed choice. */
export function describeChoice(timings: Timing[], rows: number): string {
  const chosen = fastest(timings);
  const each = timings.map((t) => `${t.device} ${t.medianMs.toFixed(2)} ms`).join(', ');
  return `auto: ${chosen.device} (per batch of ${rows} row${rows === 1 ? '' : 's'}: ${each})`;
}

/**
 * Zero-filled inputs of `rows` rows for a model whose only free dimension is the batch; otherwise
 * the reason none can be made (then "auto" keeps the planned device without timing).
 */
export function sampleInputs(signature: ModelSignature, rows: number): TensorMap | string {
  if (signature.batching !== 'rows') return 'its inputs have no batch dimension';
  const shapes: [string, NumericDType, number[], number][] = [];
  let bytes = 0;
  for (const [name, spec] of Object.entries(signature.inputs)) {
    if (spec.dtype === 'string') return `input "${name}" is text`;
    if (spec.shape.slice(1).some((d) => d === null)) return `input "${name}" has a free dimension besides the batch`;
    const shape = [rows, ...(spec.shape.slice(1) as number[])];
    const size = elementCount(shape) * bytesPerElement(spec.dtype);
    bytes += size;
    shapes.push([name, spec.dtype, shape, size]);
  }
  if (bytes > MAX_SAMPLE_BYTES) return `a batch of ${rows} rows is ${Math.round(bytes / 2 ** 20)} MB`;
  return Object.fromEntries(shapes.map(([name, dtype, shape, size]) => [name, { dtype, shape, data: new ArrayBuffer(size) }]));
}

/** A sample batch bigger than a call's own input bound is not made up for timing. */
const MAX_SAMPLE_BYTES = 16 * 2 ** 20;
