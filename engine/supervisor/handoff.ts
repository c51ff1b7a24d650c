// Connection handoff, the supervisor's data path with one engine: the supervisor accepts each TCP
// connection and passes it to the engine process (child.send with the socket, keepOpen), which
// serves HTTP on it directly, so requests cost the supervisor nothing. The supervisor keeps its
// own descriptor of every connection, unread; the engine reports which ones it closed or gave
// back. When the engine dies, every connection it held gets 502 `engine-restarted` written by the
// supervisor and is closed: the supervisor cannot know which ones carry a request the engine had
// read (a per-request report would lag by a turn, and cost a message on the busiest path), and
// nothing else would ever answer them.
import net from 'node:net';
import { STATUS_CODES } from 'node:http';
import { EngineRestartedError, errorAnswer, type IsletError } from '../errors.ts';
import type { EngineProcess } from './engine-process.ts';
import type { ConnectionReport } from './protocol.ts';

interface Connection {
  socket: net.Socket;
  engine?: EngineProcess;
  /** The engine reported an answer going out on it (ConnectionReport.answering). */
  answering?: boolean;
}

export class Handoff {
  readonly server: net.Server;
  readonly #conns = new Map<number, Connection>();
  /** Connections waiting for an engine to serve them. */
  #waiting: number[] = [];
  #target?: EngineProcess;
  #nextId = 1;
  #releases = new Map<EngineProcess, () => void>();

  constructor() {
    // Paused: the supervisor never reads a byte; the engine's parser does.
    this.server = net.createServer({ pauseOnConnect: true }, (socket) => {
      const id = this.#nextId++;
      socket.on('error', () => {});
      this.#conns.set(id, { socket });
      this.#hand(id);
    });
  }

  /** New connections (and those coming back from a dead or released engine) go to `engine`. */
  serveWith(engine: EngineProcess): void {
    this.#target = engine;
    for (const id of this.#waiting.splice(0)) this.#hand(id);
  }

  /** An engine's report of its connections since its last one. */
  report(engine: EngineProcess, r: ConnectionReport): void {
    this.#markAnswering(engine, r.answering, true);
    this.#markAnswering(engine, r.answered, false);
    for (const id of r.closed) {
      this.#conns.get(id)?.socket.destroy();
      this.#conns.delete(id);
    }
    for (const id of r.released) {
      const c = this.#conns.get(id);
      if (c?.engine !== engine) continue;
      c.engine = undefined;
      this.#hand(id);
    }
    if (this.#releases.has(engine) && !this.#owns(engine)) this.#releases.get(engine)!();
  }

  /**
   * The engine is gone: every connection it held gets 502 engine-restarted and is closed. Some
   * carry a request the engine had read (perhaps half-run); the supervisor cannot tell which, and
   * nothing else would answer them. A truly idle keep-alive client
   * sees an unsolicited answer and a close, which clients treat as a stale connection (as after a
   * server's idle timeout) and reconnect; the client that did send a request gets a retryable 502
   * instead of waiting forever. Connections never handed to it go to the next engine. Returns how
 * many were answered (not those cut mid-answer).
   */
  engineGone(engine: EngineProcess, why: IsletError = new EngineRestartedError()): number {
    if (this.#target === engine) this.#target = undefined;
    let answered = 0;
    const answer = errorAnswer(why, undefined, false);
    const head = `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}\r\n${Object.entries(answer.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}content-length: ${Buffer.byteLength(answer.body)}\r\nconnection: close\r\n\r\n`;
    for (const [id, c] of this.#conns) {
      if (c.engine !== engine) continue;
      // Midway through an answer, a 502 would be read as part of its body: cut it instead.
      if (c.answering) c.socket.destroy();
      else {
        c.socket.end(head + answer.body, () => c.socket.destroy());
        answered++;
      }
      this.#conns.delete(id);
    }
    this.#releases.get(engine)?.();
    return answered;
  }

  /**
   * Recycling: `engine` gives back each connection once no request is in flight on it, and they
   * move to the serving engine. Resolves when it holds none (or after timeoutMs).
   */
  release(engine: EngineProcess, timeoutMs: number): Promise<void> {
    if (!this.#owns(engine)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#releases.delete(engine);
        resolve();
      }
      this.#releases.set(engine, done);
      engine.send({ t: 'release' });
    });
  }

  /** Shutdown: every connection still open is closed (engines have drained by now). */
  destroyAll(): void {
    for (const c of this.#conns.values()) c.socket.destroy();
    this.#conns.clear();
  }

  #markAnswering(engine: EngineProcess, ids: number[] | undefined, answering: boolean): void {
    for (const id of ids ?? []) {
      const c = this.#conns.get(id);
      if (c?.engine === engine) c.answering = answering;
    }
  }

  #owns(engine: EngineProcess): boolean {
    for (const c of this.#conns.values()) if (c.engine === engine) return true;
    return false;
  }

  #hand(id: number): void {
    const c = this.#conns.get(id);
    if (!c) return;
    const target = this.#target;
    if (!target || target.state !== 'serving') {
      this.#waiting.push(id);
      return;
    }
    c.engine = target;
    target.handOver(id, c.socket, () => {
      // The engine died before it got the socket: the next engine will.
      if (c.engine === target) {
        c.engine = undefined;
        this.#waiting.push(id);
      }
    });
  }
}
