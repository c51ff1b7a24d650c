// fetch() for tenant code: the request is built and validated here with the runtime's own Request,
// sent to the host as plain data, and answered through settleFetch when the host is done. The
// host decides what may be reached (engine/egress/).
import { AbortSignal, addAbortAlgorithm, headersToFlat, Request, responseFromNetwork, type Response } from '../web/index.ts';
import { host } from './host-calls.ts';

interface Pending {
  resolve(response: Response): void;
  reject(err: Error): void;
}

const pending = new Map<number, Pending>();
let nextId = 1;

// A bound on subrequests waiting at once per isolate, so one tenant cannot queue unbounded work
// on the host.
const MAX_PENDING = 256;

export async function fetch(input: unknown, init?: unknown): Promise<Response> {
  const request = new Request(input as never, init as never);
  // Request has no signal of its own yet, so fetch reads init.signal itself (Fetch §5.4 step 30).
  const signal = init !== null && typeof init === 'object' ? (init as { signal?: unknown }).signal : undefined;
  if (signal !== undefined && signal !== null && !(signal instanceof AbortSignal)) {
    throw new TypeError("fetch: init.signal must be an AbortSignal");
  }
  if (signal?.aborted) throw signal.reason;
  if (pending.size >= MAX_PENDING) throw new TypeError(`fetch: more than ${MAX_PENDING} subrequests are already pending`);
  const body = request.method === 'GET' || request.method === 'HEAD' ? null : await request.arrayBuffer();
  const id = nextId++;
  return new Promise<Response>((resolve, reject) => {
    let stopListening = () => {};
    pending.set(id, {
      resolve: (response) => {
        stopListening();
        resolve(response);
      },
      reject: (err) => {
        stopListening();
        reject(err);
      },
    });
    if (signal) {
      // Fetch §4.1 "abort fetch": reject with the signal's reason, and cancel the host's request.
      stopListening = addAbortAlgorithm(signal, () => {
        if (!pending.delete(id)) return;
        host().abortFetch(id);
        reject(signal.reason);
      });
    }
    host().startFetch(id, request.method, request.url, [...headersToFlat(request.headers)], body, request.redirect);
  });
}

/**
 * Called by the host when subrequest `id` is done: with ok, the response's status, status text,
 * flat headers, body and URL list; without, the reason it failed.
 */
export function settleFetch(id: number, ok: boolean, status: number, statusText: string, headers: string[], body: ArrayBuffer | null, urls: string[]): void {
  const p = pending.get(id);
  if (!p) return;
  pending.delete(id);
  if (!ok) {
    p.reject(new TypeError(statusText));
    return;
  }
  p.resolve(responseFromNetwork(status, statusText, headers, body, urls));
}
