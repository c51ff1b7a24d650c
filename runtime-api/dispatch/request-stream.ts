// Request bodies that stream in: the tenant's request.body pulls chunks from the host (which reads
// them off the socket) only as it reads, so a big upload never sits whole in the isolate.
import { host } from '../host/host-calls.ts';
import { ReadableStream } from '../web/index.ts';

interface Waiting {
  controller: ReadableStreamDefaultController<Uint8Array>;
  resolve(): void;
}

/** Pulls waiting for the host, by the id of the request whose body they read. */
const waiting = new Map<number, Waiting>();

export function requestBodyStream(id: number): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull: (controller) => new Promise<void>((resolve) => {
      waiting.set(id, { controller, resolve });
      host().pullRequestBody(id);
    }),
    cancel: () => {
      waiting.delete(id);
      host().cancelRequestBody(id);
    },
  }, { highWaterMark: 0 });
}

/** The host's answer to a pull: a chunk, null at the end, or why the body could not be read. */
export function settleRequestChunk(id: number, chunk: ArrayBuffer | null, error: string | null): void {
  const w = waiting.get(id);
  if (!w) return;
  waiting.delete(id);
  if (error !== null) w.controller.error(new TypeError(error));
  else if (chunk === null) w.controller.close();
  else w.controller.enqueue(new Uint8Array(chunk));
  w.resolve();
}
