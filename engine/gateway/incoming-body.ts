// A request body as a Web ReadableStream read straight off Node's IncomingMessage, one chunk per
// pull: the socket is only read while the tenant reads, and the function's body limit is counted
// as the bytes arrive.
import type { IncomingMessage } from 'node:http';
import { BadRequestError, BodyTooLargeError } from '../errors.ts';

export function incomingBodyStream(incoming: IncomingMessage, fn: string, maxBodyBytes: number): ReadableStream<Uint8Array> {
  let size = 0;
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
      incoming.resume();
    },
  }, { highWaterMark: 0 });
}
