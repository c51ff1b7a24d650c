// Node's IncomingMessage → WireRequest without building a Web Request first: raw headers are
// already the flat list the isolate wants, and the body is read once, up to the function's limit.
import type { IncomingMessage } from 'node:http';
import { BodyTooLargeError } from '../errors.ts';
import type { WireRequest } from '../wire.ts';

export function wireFromIncoming(incoming: IncomingMessage, fn: string, maxBodyBytes: number): WireRequest | Promise<WireRequest> {
  const headers = incoming.rawHeaders;
  const path = incoming.url ?? '/';
  // Origin-form targets ("/path") get the Host's origin; absolute-form ones are kept as sent.
  const url = path.charCodeAt(0) === 47 /* / */ ? `${protocolOf(incoming)}://${incoming.headers.host || 'localhost'}${path}` : path;
  const method = incoming.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD'
    && (incoming.headers['content-length'] !== undefined || incoming.headers['transfer-encoding'] !== undefined);
  if (!hasBody) return { method, url, headers, body: null };
  return readBody(incoming, fn, maxBodyBytes).then((body) => ({ method, url, headers, body }));
}

function protocolOf(incoming: IncomingMessage): string {
  return (incoming.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
}

function readBody(incoming: IncomingMessage, fn: string, maxBodyBytes: number): Promise<ArrayBuffer> {
  const declared = Number(incoming.headers['content-length']);
  if (declared > maxBodyBytes) {
    incoming.resume();
    return Promise.reject(new BodyTooLargeError(fn, maxBodyBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        incoming.off('data', onData);
        // Keep reading into the void so the answer can still be written on this connection.
        incoming.resume();
        reject(new BodyTooLargeError(fn, maxBodyBytes));
        return;
      }
      chunks.push(chunk);
    };
    incoming.on('data', onData);
    incoming.once('end', () => {
      if (size > maxBodyBytes) return;
      const out = new Uint8Array(size);
      let offset = 0;
      for (const c of chunks) {
        out.set(c, offset);
        offset += c.length;
      }
      resolve(out.buffer);
    });
    incoming.once('error', reject);
  });
}
