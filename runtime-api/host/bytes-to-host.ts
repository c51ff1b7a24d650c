// The bytes the runtime has handed the host for calls the host has not settled yet: subrequest
// bodies, crypto.subtle inputs and env.AI inputs, each copied to the host's heap when its call starts and held
// there until it ends. Counted together against one bound, half the isolate's memory limit (a
// body is in the isolate twice on its way out, so no single one could be larger anyway): fifty
// 30 MB subrequest bodies to a server that did not read them put 355 MB on the host's heap, and
// 32 HMACs of 20 MB each 280 MB, within one request's limits. Each call's bytes are held by its
// PendingCalls from when it is sent until the host settles it.
const { apply } = Reflect;
const keysOf = Object.keys;
const arrayBufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get!;

let bound = 64 * 1048576;
let held = 0;

export function setBytesToHostBound(bytes: number): void {
  bound = bytes;
}

/** Why `bytes` more cannot go to the host now (`what` names the call), or undefined when they can. */
export function bytesToHostRefusal(bytes: number, what: string): string | undefined {
  if (bytes === 0 || held + bytes <= bound) return undefined;
  return `${what}: the subrequest bodies, crypto.subtle and AI inputs already on their way to the host and this call's (${bytes} bytes) would pass ${bound} bytes, half the function's memory limit`;
}

export function holdBytesToHost(bytes: number): void {
  held += bytes;
}

export function releaseBytesToHost(bytes: number): void {
  held -= bytes;
}

/**
 * The ArrayBuffer bytes in `value`, a list or dictionary the runtime built for the host (crypto
 * arguments: data, an iv, a key's material), looked at three levels deep with intrinsics taken at load.
 */
export function bytesIn(value: unknown, depth = 0): number {
  if (value === null || typeof value !== 'object' || depth > 3) return 0;
  try {
    return apply(arrayBufferByteLength, value, []) as number;
  } catch {
    // Not an ArrayBuffer: its members, then.
  }
  let sum = 0;
  const keys = keysOf(value);
  for (let i = 0; i < keys.length; i++) sum += bytesIn((value as Record<string, unknown>)[keys[i]!], depth + 1);
  return sum;
}
