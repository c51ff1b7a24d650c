// The engine's side of connection handoff: it serves HTTP on connections the supervisor passed
// it, counts the requests in flight on each (to give connections back idle when recycled, and to
// drain), and reports, once per event-loop turn, which connections it closed and which it gave
// back. Requests themselves cost no message: when an engine dies, the supervisor answers every
// connection it held, busy or not (see handoff.ts).
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { IdleSignal } from './idle-signal.ts';
import type { ConnectionReport } from './protocol.ts';

const CONN_ID = Symbol('islet.connectionId');
type Adopted = Socket & { [CONN_ID]?: number };

export class AdoptedConnections {
  readonly #server: Server;
  readonly #report: (r: ConnectionReport) => void;
  readonly #inFlight = new Map<number, number>();
  readonly #sockets = new Map<number, Socket>();
  readonly #giving = new Set<number>();
  #closed: number[] = [];
  #released: number[] = [];
  #flushing = false;
  #releasing = false;
  readonly #idle = new IdleSignal();

  constructor(server: Server, report: (r: ConnectionReport) => void) {
    this.#server = server;
    this.#report = report;
    server.on('request', (req, res) => {
      const id = (req.socket as Adopted)[CONN_ID];
      if (id === undefined) return; // a connection of the engine's own socket (the supervisor's admin calls)
      this.#change(id, 1);
      res.once('close', () => {
        this.#change(id, -1);
        if (this.#releasing && this.#inFlight.get(id) === 0) this.#giveBack(id);
        if (this.total === 0) this.#idle.notify();
      });
    });
  }

  /** Requests in flight on adopted connections. */
  get total(): number {
    let n = 0;
    for (const v of this.#inFlight.values()) n += v;
    return n;
  }

  adopt(id: number, socket: Socket): void {
    (socket as Adopted)[CONN_ID] = id;
    this.#inFlight.set(id, 0);
    this.#sockets.set(id, socket);
    socket.once('close', () => {
      this.#inFlight.delete(id);
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
    for (const [id, n] of this.#inFlight) if (n === 0) this.#giveBack(id);
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

  #change(id: number, by: number): void {
    this.#inFlight.set(id, (this.#inFlight.get(id) ?? 0) + by);
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
