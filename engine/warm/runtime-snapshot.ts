// The runtime as a V8 startup snapshot: every isolate boots with runtime-api already evaluated
// instead of compiling and running it. Built once per process from trusted code only — isolated-vm
// documents createSnapshot as unstable and unisolated, which is also why tenant code never goes in.
import ivm from 'isolated-vm';
import { runtimeScript } from '../bundle/runtime-bundle.ts';

export type Snapshot = ivm.ExternalCopy<ArrayBuffer>;

/** A snapshot of an isolate that has evaluated `code`; throws what V8 threw. */
export function createSnapshot(code: string): Snapshot {
  return ivm.Isolate.createSnapshot([{ code, filename: 'islet:runtime' }]);
}

let cached: Promise<Snapshot | undefined> | undefined;

/**
 * The runtime's snapshot, or undefined when it cannot be made: callers then boot plainly.
 * `onFailure` hears why, once per process.
 */
export function runtimeSnapshot(onFailure: (err: unknown) => void): Promise<Snapshot | undefined> {
  cached ??= runtimeScript().then((code) => {
    try {
      return createSnapshot(code);
    } catch (err) {
      onFailure(err);
      return undefined;
    }
  });
  return cached;
}
