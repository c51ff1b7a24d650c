// The backend that always works: models computed in JavaScript on the worker's CPU, built in, so
// env.AI.run has something to run on a fresh install with no config and no native code.
import type { Backend, CallFailure, LoadedModel, ModelSignature } from '../backend.ts';
import { ACCEL_DEFAULTS } from '../../limits.ts';
import { view, type TensorMap } from '../tensor.ts';
import { EMBED_DIMS, embedText } from './text-embed.ts';
import { cosineTopK, topKWork } from './top-k.ts';

export const EMBED_MODEL = '@islet/embed-text';
export const TOP_K_MODEL = '@islet/cosine-top-k';

const EMBED_SIGNATURE: ModelSignature = {
  inputs: { text: { dtype: 'string', shape: [null] } },
  outputs: { embedding: { dtype: 'float32', shape: [null, EMBED_DIMS] } },
  batching: 'rows',
};

const TOP_K_SIGNATURE: ModelSignature = {
  inputs: {
    query: { dtype: 'float32', shape: [null, null] },
    candidates: { dtype: 'float32', shape: [null, null] },
    k: { dtype: 'int32', shape: [] },
  },
  outputs: { indices: { dtype: 'int32', shape: [null, null] }, scores: { dtype: 'float32', shape: [null, null] } },
  batching: 'calls',
};

const embed: LoadedModel = {
  signature: EMBED_SIGNATURE,
  device: 'cpu',
  async run(calls) {
    return calls.map((call): TensorMap | CallFailure => {
      const texts = call.text!.data as string[];
      const outBytes = texts.length * EMBED_DIMS * Float32Array.BYTES_PER_ELEMENT;
      if (outBytes > ACCEL_DEFAULTS.maxOutputBytes) return tooBig(texts.length, 'texts', outBytes);
      const out = new Float32Array(texts.length * EMBED_DIMS);
      texts.forEach((text, i) => embedText(text, out, i * EMBED_DIMS));
      return { embedding: { dtype: 'float32', shape: [texts.length, EMBED_DIMS], data: out.buffer } } satisfies TensorMap;
    });
  },
};

const topK: LoadedModel = {
  signature: TOP_K_SIGNATURE,
  device: 'cpu',
  async run(calls) {
    return calls.map((call): TensorMap | CallFailure => {
      const [q, dims] = call.query!.shape as [number, number];
      if (!(dims > 0)) return { error: 'query and candidate rows need at least one dimension' };
      if (call.candidates!.shape[1] !== dims) return { error: `query rows have ${dims} dimensions, candidate rows ${call.candidates!.shape[1]}` };
      const k = (view(call.k!) as Int32Array)[0]!;
      if (k < 1) return { error: `k must be at least 1, got ${k}` };
      const c = call.candidates!.shape[0]!;
      const outBytes = q * Math.min(k, c) * (Int32Array.BYTES_PER_ELEMENT + Float32Array.BYTES_PER_ELEMENT);
      if (outBytes > ACCEL_DEFAULTS.maxOutputBytes) return tooBig(q, 'query rows', outBytes);
      if (topKWork(q, c, dims, k) > ACCEL_DEFAULTS.maxWorkPerCall) {
        return { error: `${q} query rows × ${c} candidates × ${dims} dimensions (k ${k}) is more work than one call may ask for (about ${ACCEL_DEFAULTS.maxWorkPerCall} multiply-adds, counting each candidate's heap work per row besides its dimensions): split it` };
      }
      let r: ReturnType<typeof cosineTopK>;
      try {
        r = cosineTopK(view(call.query!) as Float32Array, view(call.candidates!) as Float32Array, dims, k);
      } catch {
        // The worker could not hold it (an allocation refused): this call fails, not its batch.
        return { error: 'the call needed more memory than the worker could give it' };
      }
      return {
        indices: { dtype: 'int32', shape: [q, r.k], data: r.indices.buffer },
        scores: { dtype: 'float32', shape: [q, r.k], data: r.scores.buffer },
      };
    });
  },
};

function tooBig(count: number, what: string, bytes: number): CallFailure {
  return { error: `${count} ${what} would make ${bytes} bytes of output; one call may make ${ACCEL_DEFAULTS.maxOutputBytes}: split it` };
}

const MODELS: Record<string, LoadedModel> = { [EMBED_MODEL]: embed, [TOP_K_MODEL]: topK };

export const cpuBackend: Backend = {
  name: 'cpu',
  builtins: Object.keys(MODELS),
  async probe() {
    return { available: true, devices: ['cpu'], detail: `built-in models: ${Object.keys(MODELS).join(', ')}` };
  },
  async load(plan) {
    const model = MODELS[plan.name];
    if (!model) throw new Error(`the cpu backend has no model named "${plan.name}" (it has ${Object.keys(MODELS).join(', ')})`);
    return model;
  },
};
