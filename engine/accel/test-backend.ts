// A backend for the pool's own tests (loaded through AccelPoolOptions.backendModules): y = 2x,
// plus what batch each row ran in. Special inputs make a batch misbehave on purpose: -1 ends the
// worker thread, -2 throws, -3 is refused for that call alone, -4 hangs, -5 answers two outputs
// sharing one buffer. options.delayMs makes every batch take that long.
import type { Backend, CallFailure, LoadedModel } from './backend.ts';
import { view, type TensorMap } from './tensor.ts';

export const CRASH = -1;
export const THROW = -2;
export const REFUSE = -3;
export const HANG = -4;
export const SHARED = -5;

function column(dtype: 'float32' | 'int32', values: number[]): TensorMap[string] {
  const data = dtype === 'float32' ? Float32Array.from(values) : Int32Array.from(values);
  return { dtype, shape: [values.length, 1], data: data.buffer };
}

export const backend: Backend = {
  name: 'test',
  async probe() {
    return { available: true, devices: ['cpu'], detail: 'test backend' };
  },
  async load(plan): Promise<LoadedModel> {
    const delayMs = Number(plan.options?.delayMs ?? 0);
    let batches = 0;
    return {
      // Where the plan put it: a test may play an accelerator by offering one in the probe.
      device: plan.device,
      signature: {
        inputs: { x: { dtype: 'float32', shape: [null, 1] } },
        outputs: { y: { dtype: 'float32', shape: [null, 1] }, batchSize: { dtype: 'int32', shape: [null, 1] }, batchSeq: { dtype: 'int32', shape: [null, 1] } },
        batching: 'rows',
      },
      async run(calls) {
        const seq = ++batches;
        const xs = calls.map((c) => [...(view(c.x!) as Float32Array)]);
        const all = xs.flat();
        if (all.includes(CRASH)) process.exit(1);
        if (all.includes(THROW)) throw new Error('the test backend was told to fail');
        await new Promise((r) => setTimeout(r, all.includes(HANG) ? 60_000 : delayMs));
        return xs.map((rows): TensorMap | CallFailure => {
          if (rows.includes(REFUSE)) return { error: 'refused by the test backend' };
          const y = column('float32', rows.map((x) => 2 * x));
          if (rows.includes(SHARED)) return { y, batchSize: y, batchSeq: y };
          return {
            y,
            batchSize: column('int32', rows.map(() => calls.length)),
            batchSeq: column('int32', rows.map(() => seq)),
          };
        });
      },
    };
  },
};
