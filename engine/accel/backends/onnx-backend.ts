// ONNX models through onnxruntime-node, an optional dependency loaded with a dynamic import: when
// it is absent the backend reports itself unavailable and everything else keeps working. On a
// machine with an NVIDIA driver and onnxruntime's CUDA provider the CUDA execution provider is
// used; a session that fails to start on CUDA falls back to the CPU provider, and says why.
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import type { Backend, Device, LoadedModel, ModelPlan, ModelSignature } from '../backend.ts';
import { concatRows, isDType, NUMERIC_DTYPES, splitRows, view, type DType, type Tensor, type TensorMap, type TensorSpec } from '../tensor.ts';
import { ortBindingDir, probeCuda } from './cuda-probe.ts';

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

async function createSession(o: OrtModule, file: string, device: Device): Promise<Ort.InferenceSession> {
  return o.InferenceSession.create(file, {
    executionProviders: [device],
    // One thread per session: the pool already runs one worker per share of the cores, and
    // results then do not depend on how a product was split across threads.
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // onnxruntime would also print a failed provider to stderr; the error it throws is what
    // islet reports (as the model's fallback reason), in its own log.
    logSeverityLevel: 4,
  });
}

export const onnxBackend: Backend = {
  name: 'onnx',
  async probe() {
    const o = await loadOrt();
    if (!o) return { available: false, devices: [], detail: `onnxruntime-node is not installed (${ortError})` };
    const dir = packageDir();
    const cuda = probeCuda(dir && ortBindingDir(dir));
    return {
      available: true,
      devices: cuda.usable ? ['cuda', 'cpu'] : ['cpu'],
      detail: `onnxruntime-node ${o.env.versions?.common ?? ''}; cuda: ${cuda.detail}`.trim(),
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
      fallback = `${device} failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
      device = 'cpu';
      session = await createSession(o, plan.path, device);
    }
    const signature = signatureOf(session);
    const outputNames = Object.keys(signature.outputs);
    const runOne = async (feeds: TensorMap): Promise<TensorMap> => {
      const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, toOrt(o, t)])));
      return Object.fromEntries(outputNames.map((n) => [n, fromOrt(out[n]!)]));
    };
    return {
      signature,
      device,
      fallback,
      async run(calls) {
        if (signature.batching === 'calls' || calls.length === 1) return Promise.all(calls.map(runOne));
        const rows = calls.map((c) => Object.values(c)[0]!.shape[0]!);
        const joined = Object.fromEntries(Object.keys(signature.inputs).map((n) => [n, concatRows(calls.map((c) => c[n]!))]));
        const out = await runOne(joined);
        const pieces = Object.fromEntries(outputNames.map((n) => [n, splitRows(out[n]!, rows)]));
        return calls.map((_, i) => Object.fromEntries(outputNames.map((n) => [n, pieces[n]![i]!])));
      },
    };
  },
};
