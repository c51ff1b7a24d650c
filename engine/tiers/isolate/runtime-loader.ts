// Gets the runtime (runtime-api/) into a fresh context: already there when the isolate booted
// from the runtime snapshot, else compiled and run, with the script's V8 code cache kept for the
// life of the process so that only the first plain boot pays for parsing it.
import ivm from 'isolated-vm';
import { runtimeScript } from '../../bundle/index.ts';

export interface RuntimeEntry {
  init: ivm.Reference<(...args: unknown[]) => void>;
  setTenant: ivm.Reference<(namespace: unknown, env: unknown, aiBinding: string | null, aiLimits: unknown, services: unknown) => void>;
  dispatchBatch: ivm.Reference<(batch: unknown[], seq: number, settledUpTo: number, depth: number) => Promise<unknown[]>>;
  answersOf: ivm.Reference<(seq: number) => unknown[] | undefined>;
  fireDueTimer: ivm.Reference<() => void>;
  settleFetch: ivm.Reference<(...args: unknown[]) => void>;
  settleCrypto: ivm.Reference<(id: number, ok: boolean, value: unknown) => void>;
  pullResponseStream: ivm.Reference<(id: number, depth: number) => void>;
  settleRequestChunk: ivm.Reference<(id: number, chunk: ArrayBuffer | null, error: string | null, depth: number) => void>;
  cancelResponseStream: ivm.Reference<(id: number, depth: number) => void>;
  abortRequest: ivm.Reference<(id: number, depth: number) => void>;
  runScheduled: ivm.Reference<(cron: string, scheduledTime: number) => Promise<string[]>>;
  /** Runs one request through the dispatch path with a throwaway handler (see warmDispatch). */
  warmup: ivm.Reference<() => void>;
  settleAi: ivm.Reference<(...args: unknown[]) => void>;
  settleCache: ivm.Reference<(id: number, ok: boolean, value: unknown) => void>;
  socketEvent: ivm.Reference<(id: number, kind: number, data: unknown, code: number, reason: string) => void>;
  collectGarbage: ivm.Reference<() => void>;
  exposeBindings: ivm.Reference<(env: unknown) => void>;
}

let codeCache: ivm.ExternalCopy<ArrayBuffer> | undefined;

export async function loadRuntime(isolate: ivm.Isolate, context: ivm.Context, fromSnapshot: boolean): Promise<RuntimeEntry> {
  if (!fromSnapshot) await runScript(isolate, context);
  const entry = await context.global.get('__islet_runtime', { reference: true });
  const keys = [
    'init', 'setTenant', 'dispatchBatch', 'answersOf', 'fireDueTimer', 'settleFetch', 'settleCrypto', 'pullResponseStream', 'cancelResponseStream',
    'abortRequest', 'settleRequestChunk', 'runScheduled', 'settleAi', 'settleCache', 'socketEvent', 'collectGarbage', 'exposeBindings', 'warmup',
  ] as const;
  const refs = await Promise.all(keys.map((key) => entry.get(key, { reference: true })));
  entry.release();
  return Object.fromEntries(keys.map((key, i) => [key, refs[i]])) as unknown as RuntimeEntry;
}

async function runScript(isolate: ivm.Isolate, context: ivm.Context): Promise<void> {
  const source = await runtimeScript();
  // isolated-vm sets cachedDataRejected (README) though its typings omit it.
  const script: ivm.Script & ivm.CachedDataResult & { cachedDataRejected?: boolean } = await isolate.compileScript(source, {
    filename: 'islet:runtime',
    cachedData: codeCache,
    produceCachedData: codeCache === undefined,
  });
  if (script.cachedDataRejected) codeCache = undefined;
  else if (!codeCache && script.cachedData) codeCache = script.cachedData;
  await script.run(context, { release: true });
}
