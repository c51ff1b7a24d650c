// The runtime as a V8 startup snapshot: every isolate boots with runtime-api already evaluated
// instead of compiling and running it. Built once per process from trusted code only — isolated-vm
// documents createSnapshot as unstable and unisolated, which is also why tenant code never goes in.
import ivm from 'isolated-vm';
import { runtimeScript } from '../bundle/index.ts';

export type Snapshot = ivm.ExternalCopy<ArrayBuffer>;

// Run once while the snapshot is made so V8 compiles the request path's functions and keeps their
// code in it; otherwise every new isolate compiles them lazily on its first request. It touches
// only the runtime's own classes, in a throwaway context, and keeps nothing.
const WARMUP = `
  const h = new Headers([['content-type', 'text/plain'], ['x-a', '1']]);
  h.get('content-type'); h.set('x-b', '2'); [...h];
  const req = new Request('http://warm.example/a/b?c=d', { method: 'POST', headers: h, body: 'x' });
  new URL(req.url).searchParams.get('c');
  new Response('hello').headers.get('content-type');
  Response.json({ a: 1 }); Response.redirect('http://warm.example/', 302);
  new TextDecoder().decode(new TextEncoder().encode('warm'));
  structuredClone({ a: [1, 'b'] }); btoa(atob('d2FybQ=='));
  __islet_runtime.warmup();
`;

/** A snapshot of an isolate that has evaluated `code`; throws what V8 threw. */
export function createSnapshot(code: string, warmup?: string): Snapshot {
  return ivm.Isolate.createSnapshot([{ code, filename: 'islet:runtime' }], warmup);
}

let cached: Promise<Snapshot | undefined> | undefined;

/**
 * The runtime's snapshot, or undefined when it cannot be made: callers then boot plainly.
 * `onFailure` hears why, once per process.
 */
export function runtimeSnapshot(onFailure: (err: unknown) => void): Promise<Snapshot | undefined> {
  cached ??= runtimeScript().then((code) => {
    try {
      return createSnapshot(code, WARMUP);
    } catch (err) {
      onFailure(err);
      return undefined;
    }
  });
  return cached;
}
