// Bytes that arrived in pieces, joined into one buffer of their own. It imports nothing, so the
// isolate's runtime, the process sandboxes' runtime and the host (engine/) all use this one.

/** `chunks` (`size` bytes in all) copied into one new buffer: a chunk may be a view someone else still holds. */
export function joinBytes(chunks: readonly Uint8Array[], size: number): Uint8Array<ArrayBuffer> {
  const whole = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return whole;
}
