// ONNX models through onnxruntime-node, an optional dependency loaded with a dynamic import: when
// it is absent the backend reports itself unavailable and everything else keeps working. GPUs are
// reached through onnxruntime's CUDA provider (where its library is installed) or the WebGPU
// provider its own build carries (Dawn on Vulkan); "auto" times the GPU against the CPU and keeps
// the faster. A session that fails to start on a GPU falls back to the CPU provider, and says why.
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import type { Backend, CallFailure, Device, LoadedModel, ModelPlan, ModelSignature } from '../backend.ts';
import { concatRows, isDType, NUMERIC_DTYPES, splitRows, view, type DType, type Tensor, type TensorMap, type TensorSpec } from '../tensor.ts';
import { workerData } from 'piscina';
import { describeChoice, fastest, sampleInputs, timeDevices } from '../device-timing.ts';
import { GpuTurns } from '../gpu-turns.ts';
import type { WorkerData } from '../worker.ts';
import { ortBindingDir, probeCuda, probeWebGpu } from './gpu-probe.ts';

type OrtModule = typeof Ort;

let ort: Promise<OrtModule | undefined> | undefined;
let ortError = '';

function loadOrt(): Promise<OrtModule | undefined> {
  ort ??= import('onnxruntime-node').then(
    (m) => {
      const o = (m.default ?? m) as OrtModule;
      o.env.logLevel = 'fatal';
      return o;
    },
    (err: unknown) => {
      ortError = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      return undefined;
    },
  );
  return ort;
}

function packageDir(): string | undefined {
  try {
    return path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  } catch {
    return undefined;
  }
}

function toSpec(meta: Ort.InferenceSession.ValueMetadata, where: string): TensorSpec {
  if (!meta.isTensor || !isDType(meta.type)) throw new Error(`${where} "${meta.name}" has type ${meta.isTensor ? meta.type : 'non-tensor'}, which islet does not carry`);
  // Symbolic (named) or unknown (-1) dimensions are free.
  return { dtype: meta.type as DType, shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : null)) };
}

function signatureOf(session: Ort.InferenceSession): ModelSignature {
  const inputs = Object.fromEntries(session.inputMetadata.map((m) => [m.name, toSpec(m, 'input')]));
  const outputs = Object.fromEntries(session.outputMetadata.map((m) => [m.name, toSpec(m, 'output')]));
  // Rows of different calls can share one run only when every tensor's first dimension is free.
  const batchable = [...Object.values(inputs), ...Object.values(outputs)].every((s) => s.shape.length > 0 && s.shape[0] === null);
  return { inputs, outputs, batching: batchable ? 'rows' : 'calls' };
}

function toOrt(o: OrtModule, t: Tensor): Ort.Tensor {
  return t.dtype === 'string' ? new o.Tensor('string', t.data as string[], t.shape) : new o.Tensor(t.dtype, view(t) as never, t.shape);
}

/** Outputs are copied out: their memory may belong to onnxruntime and could not be transferred. */
function fromOrt(t: Ort.Tensor): Tensor {
  const dtype = t.type as DType;
  if (dtype === 'string') return { dtype, shape: [...t.dims], data: [...(t.data as string[])] };
  if (!Object.hasOwn(NUMERIC_DTYPES, dtype)) throw new Error(`an output has type ${t.type}, which islet does not carry`);
  const data = t.data as InstanceType<(typeof NUMERIC_DTYPES)[keyof typeof NUMERIC_DTYPES]>;
  return { dtype, shape: [...t.dims], data: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer };
}

/** WebGPU steps run one at a time in the process (see gpu-turns.ts for why). */
const turns = new GpuTurns((workerData as WorkerData | undefined)?.gpuTurns);
const onDevice = <T>(device: Device, step: () => Promise<T>): Promise<T> => (device === 'webgpu' ? turns.take(step) : step());

function createSession(o: OrtModule, file: string, device: Device): Promise<Ort.InferenceSession> {
  return onDevice(device, () => o.InferenceSession.create(file, {
    executionProviders: [device],
    // One thread per session: the pool already runs one worker per share of the cores, and
    // results then do not depend on how a product was split across threads.
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // onnxruntime would also print a failed provider to stderr; the error it throws is what
    // islet reports (as the model's fallback reason), in its own log.
    logSeverityLevel: 4,
  }));
}

/**
 * onnxruntime's first line, without the source file it names first and, for a failed check, the
 * check itself: "/…/webgpu_context.cc:136 … Success was false. Failed to get a WebGPU adapter: …".
 */
export function ortMessage(err: unknown): string {
  const line = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  const located = /^\/\S+:\d+ (.*)$/.exec(line);
  if (!located) return line;
  const check = located[1]!.lastIndexOf(' was false. ');
  return check >= 0 ? located[1]!.slice(check + ' was false. '.length) : located[1]!;
}

/**
 * "auto" planned an accelerator: time it and the CPU on a sample batch and keep the faster session
 * (the other is released). A model islet cannot make sample inputs for keeps the accelerator.
 */
async function timeAgainstCpu(o: OrtModule, file: string, gpu: Ort.InferenceSession, device: Device, signature: ModelSignature, rows: number) {
  const sample = sampleInputs(signature, rows);
  if (typeof sample === 'string') return { session: gpu, device, choice: `auto: ${device}, not timed against the cpu (${sample})` };
  const cpu = await createSession(o, file, 'cpu');
  const feeds = Object.fromEntries(Object.entries(sample).map(([n, t]) => [n, toOrt(o, t)]));
  try {
    // Both are timed within one turn, so no other thread's GPU work lands in the GPU's figure.
    const timings = await onDevice(device, () => timeDevices([{ device, run: () => gpu.run(feeds) }, { device: 'cpu', run: () => cpu.run(feeds) }]));
    const chosen = fastest(timings).device;
    await (chosen === 'cpu' ? onDevice(device, () => gpu.release()) : cpu.release());
    return { session: chosen === 'cpu' ? cpu : gpu, device: chosen, choice: describeChoice(timings, rows) };
  } catch (err) {
    await cpu.release();
    return { session: gpu, device, choice: `auto: ${device}, not timed against the cpu (a sample batch failed: ${ortMessage(err)})` };
  }
}

export const onnxBackend: Backend = {
  name: 'onnx',
  async probe() {
    const o = await loadOrt();
    if (!o) return { available: false, devices: [], detail: `onnxruntime-node is not installed (${ortError})` };
    const dir = packageDir();
    const cuda = probeCuda(dir && ortBindingDir(dir));
    const webgpu = probeWebGpu((o.listSupportedBackends?.() ?? []).some((b) => b.name === 'webgpu' && b.bundled));
    const devices: Device[] = [...(cuda.usable ? ['cuda' as const] : []), ...(webgpu.usable ? ['webgpu' as const] : []), 'cpu'];
    return {
      available: true,
      devices,
      detail: `onnxruntime-node ${o.env.versions?.common ?? ''}; cuda: ${cuda.detail}; webgpu: ${webgpu.detail}`,
    };
  },
  async load(plan: ModelPlan): Promise<LoadedModel> {
    const o = await loadOrt();
    if (!o) throw new Error(`onnxruntime-node is not installed (${ortError})`);
    if (!plan.path) throw new Error(`model "${plan.name}" needs a "path" to an .onnx file`);
    let device = plan.device;
    let fallback: string | undefined;
    let session: Ort.InferenceSession;
    try {
      session = await createSession(o, plan.path, device);
    } catch (err) {
      if (device === 'cpu') throw err;
      fallback = `${device} failed: ${ortMessage(err)}`;
      device = 'cpu';
      session = await createSession(o, plan.path, device);
    }
    const signature = signatureOf(session);
    let choice: string | undefined;
    if (plan.compare && device !== 'cpu') {
      const timed = await timeAgainstCpu(o, plan.path, session, device, signature, plan.compare.rows);
      ({ session, device, choice } = timed);
    }
    const outputNames = Object.keys(signature.outputs);
    const runOne = async (feeds: TensorMap): Promise<TensorMap> => {
      const inputs = Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, toOrt(o, t)]));
      const out = await onDevice(device, () => session.run(inputs));
      return Object.fromEntries(outputNames.map((n) => [n, fromOrt(out[n]!)]));
    };
    return {
      signature,
      device,
      fallback,
      choice,
      async run(calls) {
        if (signature.batching === 'rows' && calls.length > 1) {
          const rows = calls.map((c) => Object.values(c)[0]!.shape[0]!);
          const joined = Object.fromEntries(Object.keys(signature.inputs).map((n) => [n, concatRows(calls.map((c) => c[n]!))]));
          try {
            const out = await runOne(joined);
            const pieces = Object.fromEntries(outputNames.map((n) => [n, splitRows(out[n]!, rows)]));
            return calls.map((_, i) => Object.fromEntries(outputNames.map((n) => [n, pieces[n]![i]!])));
          } catch {
            // Which call was it? Each runs alone below (the joined run copied their inputs).
          }
        }
        // One call's values can make onnxruntime refuse the run (a token id past a Gather's
        // table): that call fails alone, and its batch-mates neither fail with it nor read its
        // values in the message ("idx=99 must be within…"). Only when every call fails with the
        // same words is the model itself failing (the batch fails, as before); words that differ
        // carry each call's own values, and each caller reads only its own.
        const settled = await Promise.allSettled(calls.map(runOne));
        const failures = settled.flatMap((r) => (r.status === 'rejected' ? [ortMessage(r.reason)] : []));
        if (failures.length === settled.length && failures.every((m) => m === failures[0])) throw (settled[0] as PromiseRejectedResult).reason;
        return settled.map((r): TensorMap | CallFailure => (r.status === 'fulfilled' ? r.value : { error: ortMessage(r.reason) }));
      },
    };
  },
};
