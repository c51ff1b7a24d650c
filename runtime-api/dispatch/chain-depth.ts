// Which request the code running now works for, as far as a service-binding chain is concerned:
// how many service-binding calls deep that request is, so that a call it makes is charged one
// more (the host refuses the 33rd). Workers attributes I/O to the request whose event is being
// delivered; so does islet, per call into the isolate:
// - the host sends a batch of requests of one depth together (their microtasks interleave, so a
//   batch of mixed depths could not be told apart), and names the depth of each request's own
//   deliveries (its body's chunks, its client leaving, its response stream's pulls);
// - what the runtime starts for the code running (a subrequest, a timer, a crypto or cache or AI
//   call) takes the depth of that moment, and the call that settles it brings it back.
// Everything else (a WebSocket's event, say) is no request's here: UNKNOWN, and the host charges
// the deepest request its sandbox serves. Tenant code cannot set it; code that hands work from one
// request to another (a promise one resolves and the other awaits) moves that work to the other's
// chain, as on Workers.
export const UNKNOWN_DEPTH = -1;

let current = UNKNOWN_DEPTH;

/** The depth of the request whose work runs now, or UNKNOWN_DEPTH. */
export function chainDepth(): number {
  return current;
}

/** A call into the isolate begins work for a request `depth` calls deep (UNKNOWN_DEPTH: for none it can name). */
export function enterChain(depth: number): void {
  current = depth;
}
