// The engine's side of connection handoff: it serves HTTP on connections the supervisor passed
// it, counts the requests in flight on each (to give connections back idle when recycled, and to
// drain), and reports, once per event-loop turn, which connections it closed and which it gave
// back. Requests themselves cost no message: when an engine dies, the supervisor answers every
// connection it held, busy or not (see handoff.ts).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { IdleSignal } from './idle-signal.ts';
import type { ConnectionReport } from './protocol.ts';

const CONN_ID = Symbol('islet.connectionId');
const IN_FLIGHT = Symbol('islet.requestsInFlight');
type Adopted = Socket & { [CONN_ID]?: number; [IN_FLIGHT]?: number };

export class AdoptedConnections {
  readonly #server: Server;
  readonly #report: (r: ConnectionReport) => void;
  readonly #sockets = new Map<number, Adopted>();
  readonly #giving = new Set<number>();
  #total = 0;
  #closed: number[] = [];
  #released: number[] = [];
  #flushing = false;
  #releasing = false;
  readonly #idle = new IdleSignal();

  constructor(server: Server, report: (r: ConnectionReport) => void) {
    this.#server = server;
    this.#report = report;
    // This runs for every request: counts live on the socket and one listener function serves
    // every response (a closure and map updates per request cost ~6% of a hello's CPU).
    const tracker = this;
    function responseClosed(this: ServerResponse): void {
      tracker.#finished(this.req.socket as Adopted);
    }
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket as Adopted;
      if (socket[IN_FLIGHT] === undefined) return; // a connection of the engine's own socket (the supervisor's admin calls)
      socket[IN_FLIGHT]++;
      this.#total++;
      res.on('close', responseClosed);
    });
  }

  /** Requests in flight on adopted connections. */
  get total(): number {
    return this.#total;
  }

  adopt(id: number, socket: Socket): void {
    const adopted = socket as Adopted;
    adopted[CONN_ID] = id;
    adopted[IN_FLIGHT] = 0;
    this.#sockets.set(id, adopted);
    socket.once('close', () => {
      this.#sockets.delete(id);
      if (this.#giving.delete(id)) this.#released.push(id);
      else this.#closed.push(id);
      this.#schedule();
    });
    if (this.#releasing) return this.#giveBack(id);
    this.#server.emit('connection', socket);
  }

  /** Give every connection back once it has no request in flight. */
  release(): void {
    this.#releasing = true;
    for (const [id, socket] of this.#sockets) if (socket[IN_FLIGHT] === 0) this.#giveBack(id);
  }

  /** Resolves when no request is in flight on an adopted connection (or after timeoutMs). */
  idle(timeoutMs: number): Promise<void> {
    return this.#idle.wait(this.total === 0, timeoutMs);
  }

  /**
   * Closes this process's descriptor only: the supervisor's keeps the connection open, with
   * whatever the client sends next still unread in the kernel, for the next engine.
   */
  #giveBack(id: number): void {
    const socket = this.#sockets.get(id);
    if (!socket || this.#giving.has(id)) return;
    this.#giving.add(id);
    socket.destroy();
  }

  #finished(socket: Adopted): void {
    socket[IN_FLIGHT]!--;
    this.#total--;
    if (this.#releasing && socket[IN_FLIGHT] === 0) this.#giveBack(socket[CONN_ID]!);
    if (this.#total === 0) this.#idle.notify();
  }

  #schedule(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => {
      this.#flushing = false;
      if (!this.#closed.length && !this.#released.length) return;
      this.#report({ closed: this.#closed, released: this.#released });
      this.#closed = [];
      this.#released = [];
    });
  }
}
