// env.AI inside the isolate: `run(model, inputs, options?)` sends the inputs to the host's
// accelerator pool and resolves with the model's outputs as typed arrays. Typed arrays cross as
// whole ArrayBuffers (one bulk copy out; results are moved in without a copy); failures are
// AIErrors whose `name` and `code` say what went wrong (ai-core.ts, shared with process sandboxes).
// Only classes and functions are defined at load time, so this module can sit in the runtime's V8
// snapshot.
import { type AbortSignal, isAbortSignalObject } from '../web/abort.ts';
import { host } from '../host/host-calls.ts';
import { PendingCalls } from '../host/pending-calls.ts';
import { bytesToHostRefusal } from '../host/bytes-to-host.ts';
import { AIError, outputsOf, type AiTensor, type AiTransport, type OutputMeta } from './ai-core.ts';

export { Ai, AIError, type AiLimits, type AiTensor } from './ai-core.ts';

const pending = new PendingCalls<Record<string, AiTensor>>();

/** Calls through isolated-vm callbacks, answered by settleAi. */
export const isolateAi: AiTransport = {
  // The brand, not instanceof: AbortSignal[Symbol.hasInstance] is the tenant's to replace.
  isSignal: (value) => isAbortSignalObject(value),
  get pending() {
    return pending.size;
  },
  call: (model, wire, timeoutMs, signal, bytes) => {
    // With the count alone, 64 calls of 16 MB each were 1 GB on the host for one function.
    const refused = bytesToHostRefusal(bytes, 'AI.run');
    if (refused !== undefined) return Promise.reject(new AIError('quota_exceeded', refused));
    return pending.start(signal as AbortSignal | undefined, (id) => host().aiRun(id, model, wire, timeoutMs), (id) => host().aiAbort(id), bytes);
  },
};

/**
 * Called by the host when AI call `id` is done: with an error code and message, or with one
 * [name, dtype, shape, strings | null] entry per output and the numeric outputs' buffers in order.
 */
export function settleAi(id: number, code: string, message: string, meta: OutputMeta[], ...buffers: ArrayBuffer[]): void {
  const p = pending.take(id);
  if (!p) return;
  if (code) p.reject(new AIError(code, message));
  else p.resolve(outputsOf(meta, buffers));
}
