// request.signal of an incoming request: it aborts when the client goes away before the answer is
// complete, as Workers' does (compatibility flag enable_request_signal), so that a handler waiting
// on slow work, or streaming to nobody, can stop. Made on first read: most handlers never ask.
import { AbortController, type AbortSignal } from '../web/abort.ts';
import { DOMException } from '../web/dom-exception.ts';
import { enterChain, UNKNOWN_DEPTH } from './chain-depth.ts';

/** A request still running here whose client left before its signal was read. */
const GONE = 0;

/**
 * Requests running in this isolate, by id: null while nothing read the signal, the controller
 * once something did, GONE once the client left first. An id not here is finished: a late word
 * from the host about it is ignored, so nothing is kept for it.
 */
const running = new Map<number, AbortController | typeof GONE | null>();

export function requestStarted(id: number): void {
  running.set(id, null);
}

/** The request answered and its body, if streamed, ended: its signal can no longer abort. */
export function requestEnded(id: number): void {
  running.delete(id);
}

/** What request.signal follows for request `id` (its lazy source). */
export function clientSignal(id: number): AbortSignal {
  const controller = new AbortController();
  const state = running.get(id);
  if (state === GONE) controller.abort(clientGone());
  else if (state === null) running.set(id, controller);
  else if (state !== undefined) return state.signal;
  return controller.signal;
}

/**
 * The host saw request `id` (`depth` service-binding calls deep) lose its client, or cancelled
 * its streamed body.
 */
export function abortRequest(id: number, depth = UNKNOWN_DEPTH): void {
  enterChain(depth);
  const state = running.get(id);
  if (state === undefined || state === GONE) return;
  if (state === null) running.set(id, GONE);
  else state.abort(clientGone());
}

function clientGone(): DOMException {
  return new DOMException('The request was cancelled before its response was complete (its client disconnected)', 'AbortError');
}
