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

/** Reassembles frames from a byte stream; a frame over `maxFrameBytes` or malformed throws FrameError. */
export class FrameReader {
  readonly #maxFrameBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /**
   * Bytes to hold before parsing is worth trying: the next frame's whole length once its prefix
   * came. Chunks wait in a list until then, so a frame of n bytes arriving in k chunks is joined
   * once, not k times (joining on every chunk made a 40 MB body cost seconds of the host's CPU).
   */
  #need = 4;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
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
      if (buf.length - offset < 4 + length) {
        this.#need = 4 + length;
        break;
      }
      const headLength = buf.readUInt32BE(offset + 4);
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
