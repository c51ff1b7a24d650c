// The engine's side of connection handoff: it serves HTTP on connections the supervisor passed
// it, counts the requests in flight on each (to give connections back idle when recycled, and to
// drain), and reports, once per event-loop turn, which connections it closed and which it gave
// back. Requests themselves cost no message: when an engine dies, the supervisor answers every
// connection it held, busy or not (see handoff.ts).
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { IdleSignal } from './idle-signal.ts';
import type { ConnectionReport } from './protocol.ts';

const CONN_ID = Symbol('islet.connectionId');
/** How often connections with requests in flight are looked at for answers going out. */
const ANSWER_WATCH_MS = 20;
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
  /** Sockets with requests in flight, watched for answers that take a while to go out. */
  readonly #inFlightSockets = new Set<Adopted>();
  /** Connections reported answering, and what to report at the next flush. */
  readonly #answering = new Set<number>();
  #nowAnswering: number[] = [];
  #nowAnswered: number[] = [];
  #watch: NodeJS.Timeout | undefined;
  #flushing = false;
  #releasing = false;
  #draining = false;
  /** Notified when no adopted connection is left, once the supervisor has been told. */
  readonly #gone = new IdleSignal();

  constructor(server: Server, report: (r: ConnectionReport) => void, webSockets?: EventEmitter) {
    this.#server = server;
    this.#report = report;
    // An upgraded connection (a WebSocket) is one answer that lasts until it closes: never given
    // back to the supervisor (it would serve the stream to the next engine as HTTP), and cut, not
    // answered 502, if this engine dies. Its request never was a 'request' event.
    webSockets?.on('connection', (ws: { close(code: number, reason: string): void }, req: IncomingMessage) => {
      const socket = req.socket as Adopted;
      if (socket[IN_FLIGHT] === undefined) return;
      // Completed after this engine was told to give its connections back: asked to go at once,
      // as the ones open then were (engine-worker.ts).
      if (this.#releasing) ws.close(1001, 'the server is restarting');
      socket[IN_FLIGHT]++;
      this.#total++;
      socket.once('close', () => this.#finished(socket));
      const id = socket[CONN_ID]!;
      this.#answering.add(id);
      this.#nowAnswering.push(id);
      this.#schedule();
    });
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
      this.#inFlightSockets.add(socket);
      this.#watch ??= setTimeout(this.#watchAnswers, ANSWER_WATCH_MS).unref();
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
    for (const [id, socket] of this.#sockets) if (socket[IN_FLIGHT] === 0 && !upgrading(socket)) this.#giveBack(id);
  }

  /**
   * SIGTERM: each answer from now on says `Connection: close` and each connection is closed once
   * its answers are over, so that keep-alive clients leave after their current request, and
   * requests still coming are served, not refused by an engine that stopped at its first idle
   * moment. Idle connections are the gateway's to close (ServedGateway.close). Resolves when no
   * adopted connection is left (or after timeoutMs).
   */
  drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    // Added only now, and first, before the gateway writes a head: serving costs nothing more.
    this.#server.prependListener('request', lastOnItsConnection);
    for (const socket of this.#inFlightSockets) {
      const res = (socket as Adopted & { _httpMessage?: ServerResponse })._httpMessage;
      if (res && !res.headersSent) res.shouldKeepAlive = false;
    }
    return this.#gone.wait(this.#sockets.size === 0, timeoutMs);
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
    if (socket[IN_FLIGHT] === 0) {
      const id = socket[CONN_ID]!;
      this.#inFlightSockets.delete(socket);
      if (this.#answering.delete(id)) {
        this.#nowAnswered.push(id);
        this.#schedule();
      }
      if (this.#releasing) this.#giveBack(id);
      // An answer whose head went out keep-alive before the drain: its client would send the
      // next request here. The FIN goes now, not when the supervisor hears of the close.
      else if (this.#draining && !upgrading(socket)) socket.destroySoon();
    }
  }

  /**
   * Every ANSWER_WATCH_MS while requests are in flight: connections whose answer has started going
   * out (a streamed body, say) are reported, so that a dead engine's supervisor cuts them instead
   * of writing a 502 into them. Answers that start and end between two looks are never reported,
   * which spares the common quick answer a message.
   */
  #watchAnswers = (): void => {
    this.#watch = undefined;
    for (const socket of this.#inFlightSockets) {
      const id = socket[CONN_ID]!;
      if (this.#answering.has(id)) continue;
      if ((socket as Adopted & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true) {
        this.#answering.add(id);
        this.#nowAnswering.push(id);
      }
    }
    if (this.#nowAnswering.length) this.#schedule();
    if (this.#inFlightSockets.size > 0) this.#watch = setTimeout(this.#watchAnswers, ANSWER_WATCH_MS).unref();
  };

  #schedule(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => {
      this.#flushing = false;
      if (!this.#closed.length && !this.#released.length && !this.#nowAnswering.length && !this.#nowAnswered.length) return;
      this.#report({ closed: this.#closed, released: this.#released, answering: this.#nowAnswering, answered: this.#nowAnswered });
      this.#closed = [];
      this.#released = [];
      this.#nowAnswering = [];
      this.#nowAnswered = [];
      // After the report: the supervisor hears of every close before the engine says it drained,
      // or it would answer 503 on connections the engine had closed.
      if (this.#sockets.size === 0) this.#gone.notify();
    });
  }
}

/** A 'request' listener while draining: the answer says `Connection: close`, and Node closes after it. */
function lastOnItsConnection(_req: IncomingMessage, res: ServerResponse): void {
  res.shouldKeepAlive = false;
}

/**
 * True when Node's HTTP parser has left the socket: an upgrade is being answered (it never was a
 * 'request', so it is not counted in flight) or was done. Such a connection is never HTTP again:
 * given back, the next engine would wait for a request its client already sent. It ends on its
 * own (a refused upgrade closes it) or becomes a WebSocket, counted from then on.
 */
function upgrading(socket: Socket): boolean {
  return (socket as Socket & { parser?: unknown }).parser == null;
}
