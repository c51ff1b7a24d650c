// The framed protocol between the host and the runtime inside a process, container or VM
// sandbox. One frame: [u32 length of the rest][u32 length of the head][head: JSON][body bytes].
// Bodies travel as raw bytes beside the JSON head, so a request or response body is copied once
// and never base64-encoded. Both sides import this file: it uses nothing but Node's Buffer.

/** Every message names its kind in `t`; requests, subrequests and pings carry an `id`. */
export interface FrameHead {
  t: string;
  id?: number;
  [field: string]: unknown;
}

export interface Frame {
  head: FrameHead;
  body: Uint8Array | null;
}

const PREFIX_BYTES = 8;

export function encodeFrame(head: FrameHead, body?: Uint8Array | null): Buffer {
  const json = Buffer.from(JSON.stringify(head));
  const bodyLength = body?.byteLength ?? 0;
  const out = Buffer.allocUnsafe(PREFIX_BYTES + json.length + bodyLength);
  out.writeUInt32BE(4 + json.length + bodyLength, 0);
  out.writeUInt32BE(json.length, 4);
  json.copy(out, PREFIX_BYTES);
  if (body && bodyLength) out.set(body, PREFIX_BYTES + json.length);
  return out;
}

export class FrameError extends Error {}

/**
 * The longest head a sandbox's frame may have. Its heads carry names, headers (the gateway takes
 * at most 128 KB of a response's), log lines and exception texts (cut to 16 KB each): never near this.
 */
export const MAX_SANDBOX_HEAD_BYTES = 1024 * 1024;

/**
 * Strings as frame body bytes (an AI call's text inputs): [u32 count] then [u32 bytes][UTF-8] each.
 * Heads from a sandbox are held to a small size (MAX_SANDBOX_HEAD_BYTES), because JSON.parse of a
 * forged head is the host's work and memory: 240 MB of `{},` were 80 million objects on its heap.
 */
export function encodeStrings(strings: readonly string[]): Buffer {
  // By index: the runtime's lists have no prototype (runtime-api/web/plain-bytes.ts).
  const parts: Buffer[] = [];
  let total = 4;
  for (let i = 0; i < strings.length; i++) {
    parts.push(Buffer.from(strings[i]!));
    total += 4 + parts[i]!.length;
  }
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32BE(parts.length, 0);
  let offset = 4;
  for (const part of parts) {
    out.writeUInt32BE(part.length, offset);
    part.copy(out, offset + 4);
    offset += 4 + part.length;
  }
  return out;
}

/** The strings of encodeStrings, or why these bytes are not that (at most `maxStrings` of them). */
export function decodeStrings(bytes: Uint8Array, maxStrings: number): string[] | string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4) return 'strings without their count';
  const count = buf.readUInt32BE(0);
  if (count > maxStrings || count > (buf.length - 4) / 4) return `more strings than ${Math.min(maxStrings, (buf.length - 4) / 4)}`;
  const strings: string[] = new Array(count);
  let offset = 4;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > buf.length) return 'strings cut short';
    const length = buf.readUInt32BE(offset);
    if (offset + 4 + length > buf.length) return 'strings cut short';
    strings[i] = buf.toString('utf8', offset + 4, offset + 4 + length);
    offset += 4 + length;
  }
  return offset === buf.length ? strings : 'bytes after the strings';
}

/** Reassembles frames from a byte stream; a frame over `maxFrameBytes` or malformed throws FrameError. */
export class FrameReader {
  readonly #maxFrameBytes: number;
  readonly #maxHeadBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /**
   * Bytes to hold before parsing is worth trying: the next frame's whole length once its prefix
   * came. Chunks wait in a list until then, so a frame of n bytes arriving in k chunks is joined
   * once, not k times (joining on every chunk made a 40 MB body cost seconds of the host's CPU).
   */
  #need = 4;

  constructor(maxFrameBytes: number, maxHeadBytes = maxFrameBytes) {
    this.#maxFrameBytes = maxFrameBytes;
    this.#maxHeadBytes = maxHeadBytes;
  }

  push(chunk: Buffer): Frame[] {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    const frames: Frame[] = [];
    // Once the prefix is in (need > 4), its length was checked: nothing to do until the rest came.
    if (this.#pendingBytes < this.#need) return frames;
    let buf = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    let offset = 0;
    this.#need = 4;
    while (buf.length - offset >= 4) {
      const length = buf.readUInt32BE(offset);
      if (length < 4 || length > this.#maxFrameBytes) throw new FrameError(`frame of ${length} bytes refused (limit ${this.#maxFrameBytes})`);
      // The head's length is checked as soon as it is in, before the rest is waited for.
      if (buf.length - offset < PREFIX_BYTES) {
        this.#need = PREFIX_BYTES;
        break;
      }
      const headLength = buf.readUInt32BE(offset + 4);
      if (headLength > this.#maxHeadBytes) throw new FrameError(`frame head of ${headLength} bytes refused (limit ${this.#maxHeadBytes})`);
      if (buf.length - offset < 4 + length) {
        this.#need = 4 + length;
        break;
      }
      if (headLength > length - 4) throw new FrameError('frame head longer than its frame');
      const headStart = offset + PREFIX_BYTES;
      const head = JSON.parse(buf.toString('utf8', headStart, headStart + headLength)) as FrameHead;
      if (head === null || typeof head !== 'object' || typeof head.t !== 'string') throw new FrameError('frame head is not a message');
      const bodyStart = headStart + headLength;
      const bodyEnd = offset + 4 + length;
      // Copied out: the chunk it came from is reused by the stream.
      frames.push({ head, body: bodyEnd > bodyStart ? new Uint8Array(buf.subarray(bodyStart, bodyEnd)) : null });
      offset = bodyEnd;
    }
    buf = buf.subarray(offset);
    this.#pending = buf.length ? [buf] : [];
    this.#pendingBytes = buf.length;
    return frames;
  }
}
