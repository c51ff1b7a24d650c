// Response bodies that are streams, sent as they are produced: the host pulls one chunk at a time
// (when its socket can take more), so a large or endless body never sits whole in either heap.
import { host } from '../host/host-calls.ts';
import type { ChunkReader } from '../web/index.ts';
import { abortRequest, requestEnded } from './client-signal.ts';
import { enterChain, UNKNOWN_DEPTH } from './chain-depth.ts';
import { cut, describeThrown } from './describe.ts';
import { checkedArrayBuffer } from '../web/plain-bytes.ts';

/** The most of a stream's error text that goes to the host's log (which keeps 16 KB). */
const ERROR_CHARS = 32 * 1024;

/** Open response streams by the id of the request they answer. */
const open = new Map<number, ChunkReader>();

export function openResponseStream(id: number, reader: ChunkReader): void {
  open.set(id, reader);
}

/**
 * The host wants the next chunk of request `id`'s body (`depth`: its request's, for the tenant's
 * pull): it answers with host.streamChunk.
 */
export function pullResponseStream(id: number, depth = UNKNOWN_DEPTH): void {
  enterChain(depth);
  const reader = open.get(id);
  if (!reader) return;
  const failed = (err: unknown) => {
    open.delete(id);
    requestEnded(id);
    host().streamChunk(id, null, streamErrorText(err));
  };
  reader.next().then(
    (chunk) => {
      // Checked with the getter there was at load before the call copies it: the reader comes out
      // of a Map whose methods the tenant can replace, and one handed over its own reader, whose
      // "chunks" were 128 MB strings copied onto the host's heap.
      if (chunk !== null) {
        try {
          checkedArrayBuffer(chunk, 'a response body chunk');
        } catch (err) {
          failed(err);
          return;
        }
      }
      if (chunk === null) {
        open.delete(id);
        requestEnded(id);
      }
      host().streamChunk(id, chunk, null);
    },
    failed,
  );
}

/**
 * What a stream failed with, as the host logs it: cut before it is copied out, and read only inside
 * describeThrown's guard with the built-ins there were at load (describe.ts). A stream failing with
 * a 512 MB message cost the host ~1 GB and a 0.5 s stall, with a replaced String the process; an
 * `instanceof Error` outside the guard ran a tenant's Symbol.hasInstance, whose throw was copied
 * out whole and left the stream open until the wall-clock limit.
 */
function streamErrorText(err: unknown): string {
  if (typeof err === 'string') return cut(err, ERROR_CHARS);
  const thrown = describeThrown(err);
  return `${thrown[0]}: ${thrown[1]}`;
}

/**
 * The client went away (or a limit ended the request): cancel the tenant's stream, and abort
 * request.signal for a handler that writes to it from elsewhere (a loop feeding a TransformStream).
 */
export function cancelResponseStream(id: number, depth = UNKNOWN_DEPTH): void {
  const reader = open.get(id);
  open.delete(id);
  abortRequest(id, depth);
  requestEnded(id);
  reader?.cancel();
}
