// A request body as a Web ReadableStream read straight off Node's IncomingMessage, one chunk per
// pull: the socket is only read while the tenant reads, and the function's body limit is counted
// as the bytes arrive.
import type { IncomingMessage } from 'node:http';
import { BadRequestError, BodyTooLargeError } from '../errors.ts';

export function incomingBodyStream(incoming: IncomingMessage, fn: string, maxBodyBytes: number): ReadableStream<Uint8Array> {
  let size = 0;
  const stopWatching = watchWhileUnread(incoming);
  return new ReadableStream<Uint8Array>({
    pull: (controller) => new Promise<void>((resolve) => {
      const done = (settle: () => void) => {
        incoming.off('readable', tryRead);
        incoming.off('end', onEnd);
        incoming.off('error', onError);
        incoming.off('close', onClose);
        settle();
        resolve();
      };
      const onEnd = () => done(() => controller.close());
      const onError = (err: Error) => done(() => controller.error(err));
      // A client that goes away mid-upload ends the stream with neither 'end' nor (always) 'error'.
      const onClose = () => {
        if (!incoming.complete) done(() => controller.error(new BadRequestError('the client closed the connection before sending the whole body')));
      };
      function tryRead(): void {
        const chunk = incoming.read() as Buffer | null;
        if (chunk === null) return;
        size += chunk.length;
        if (size > maxBodyBytes) {
          // Keep reading into the void so that an answer can still be written on this connection.
          incoming.resume();
          done(() => controller.error(new BodyTooLargeError(fn, maxBodyBytes)));
          return;
        }
        done(() => controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
      }
      if (incoming.readableEnded) return done(() => controller.close());
      if (incoming.destroyed) return onClose();
      incoming.on('readable', tryRead);
      incoming.once('end', onEnd);
      incoming.once('error', onError);
      incoming.once('close', onClose);
      tryRead();
    }),
    // The tenant does not want the rest: drain it, so that the connection stays usable.
    cancel: () => {
      stopWatching();
      incoming.resume();
    },
  }, { highWaterMark: 0 });
}

/** How often a body nobody reads has its socket read once, to see whether the client is still there. */
const LIVENESS_MS = 1_000;
/** Body bytes waiting for the function past which the socket is not read to look (a probe's 2 MB a request, at a read a second over 30 s). */
const LIVENESS_BUFFER_BYTES = 512 * 1024;

/**
 * While nobody reads the body, Node reads the socket no more once its buffers are full (~64 KB),
 * and so never sees the client go: request.signal did not abort, and the request held its place
 * until its wall-clock limit. So each second the socket is let read once (Node pauses it again as
 * soon as the body buffer takes the chunk): a client gone shows as the connection closing. Each
 * look buffers at most one more socket read (64 KB), and none once 512 KB wait for the function:
 * a client that left more than that unread is seen only at the wall-clock limit, as before.
 * Returns the stop.
 */
function watchWhileUnread(incoming: IncomingMessage): () => void {
  const timer = setInterval(() => {
    if (incoming.complete || incoming.destroyed) return stop();
    const socket = incoming.socket;
    if (incoming.readableLength >= LIVENESS_BUFFER_BYTES) return;
    if (socket && socket.isPaused() && !socket.destroyed) socket.resume();
  }, LIVENESS_MS);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    incoming.off('close', stop);
    incoming.off('end', stop);
  };
  incoming.once('close', stop);
  incoming.once('end', stop);
  return stop;
}
