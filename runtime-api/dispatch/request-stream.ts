// Request bodies that stream in: the tenant's request.body pulls chunks from the host (which reads
// them off the socket) only as it reads, so a big upload never sits whole in the isolate.
import { host } from '../host/host-calls.ts';
import { ReadableStream } from '../web/index.ts';
import { closeByteStream, PULL_ON_FIRST_READ, type ReadableByteStreamController } from '../web/streams.ts';
import { nullProto } from '../webidl/index.ts';
import { enterChain, UNKNOWN_DEPTH } from './chain-depth.ts';

interface Waiting {
  controller: ReadableByteStreamController;
  resolve(): void;
}

/** Pulls waiting for the host, by the id of the request whose body they read. */
const waiting = new Map<number, Waiting>();

export function requestBodyStream(id: number): ReadableStream<Uint8Array> {
  // A byte stream, as Fetch's request bodies are: a BYOB reader reads straight into its own buffer.
  return new ReadableStream<Uint8Array>(nullProto({
    type: 'bytes',
    pull: (controller: ReadableByteStreamController) => new Promise<void>((resolve) => {
      waiting.set(id, { controller, resolve });
      host().pullRequestBody(id);
    }),
    cancel: () => {
      waiting.delete(id);
      host().cancelRequestBody(id);
    },
  }), PULL_ON_FIRST_READ);
}

/**
 * The host's answer to a pull: a chunk, null at the end, or why the body could not be read;
 * `depth` is the depth of the request whose body it is.
 */
export function settleRequestChunk(id: number, chunk: ArrayBuffer | null, error: string | null, depth = UNKNOWN_DEPTH): void {
  enterChain(depth);
  const w = waiting.get(id);
  if (!w) return;
  if (chunk !== null && error === null && chunk.byteLength === 0) {
    // A byte stream takes no empty chunks, and the pull must not end without one (nothing would
    // pull again for the waiting read): ask the host for the next chunk instead.
    host().pullRequestBody(id);
    return;
  }
  waiting.delete(id);
  // The host could not copy the chunk in (engine/tiers/request-body.ts ALLOCATION_FAILED): the
  // RangeError an allocation past the memory limit throws in here.
  if (error === 'Array buffer allocation failed') w.controller.error(new RangeError(error));
  else if (error !== null) w.controller.error(new TypeError(error));
  else if (chunk === null) closeByteStream(w.controller);
  else w.controller.enqueue(new Uint8Array(chunk));
  w.resolve();
}
