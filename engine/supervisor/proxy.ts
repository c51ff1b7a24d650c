// One request from the front socket to an engine process and its answer back, through an undici
// pool of keep-alive connections to the engine's Unix socket. If the engine dies before it
// answers, the client gets 502 `engine-restarted` (or, once the answer had started, a cut
// connection, as from any server that dies mid-answer); a request whose connection the dead
// engine's socket refused never reached it, and is sent again (to its replacement).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { BadRequestError, EngineRestartedError, errorAnswer, type ErrorAnswer, type IsletError } from '../errors.ts';

// Hop-by-hop headers (RFC 9110 §7.6.1) are the connection's, not the request's; undici refuses
// most of them, and `expect: 100-continue` was already answered by the front server.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect']);

// How a connection that never opened fails: the engine's socket file is gone, or no one listens on
// it; and any error of the connect call itself (a reset while connecting, seen in a probe).
const REFUSED = new Set(['ECONNREFUSED', 'ENOENT']);
const neverConnected = (err: Error) => {
  const { code, syscall } = err as { code?: string; syscall?: string };
  return REFUSED.has(code ?? '') || syscall === 'connect';
};

/**
 * `done` runs once the exchange is over, however it ended; `engineFailed` when the engine's
 * connection broke under the request (not when the client went away); `resend`, if given, instead
 * of answering 502 when the connection was refused before any of the request was read, which
 * happens between an engine's death and the supervisor learning of it: the caller sends the
 * request again, and this exchange is over without an answer; `answered` learns of each error
 * answer written here (the supervisor's metrics). Returns what ends the exchange
 * early (the supervisor shutting down): the client gets `reason`'s answer if none had started,
 * else a cut connection.
 */
export function forward(
  pool: Dispatcher, req: IncomingMessage, res: ServerResponse, fn: string, done: () => void, engineFailed: () => void,
  resend?: (refused: boolean) => void,
  answered: (answer: ErrorAnswer) => void = () => {},
): (reason: IsletError) => void {
  const raw = req.rawHeaders;
  const headers: string[] = [];
  let hasBody = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'content-length' || name === 'transfer-encoding') hasBody = true;
    if (!HOP_BY_HOP.has(name)) headers.push(raw[i]!, raw[i + 1]!);
  }
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done();
  };
  let controller: Dispatcher.DispatchController | undefined;
  let clientGone = false;
  let stopped: IsletError | undefined;
  res.once('close', () => {
    if (!res.writableFinished) {
      clientGone = true;
      controller?.abort(new Error('client went away'));
    }
    finish();
  });
  pool.dispatch({ path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers, body: hasBody ? req : null }, {
    onRequestStart(c) {
      controller = c;
      if (stopped) c.abort(stopped);
    },
    onResponseStart(c, statusCode, resHeaders, statusMessage) {
      for (const h of HOP_BY_HOP) delete resHeaders[h];
      // The engine's reason phrase (a tenant's own statusText) passes through as it is.
      if (statusMessage) res.statusMessage = statusMessage;
      res.writeHead(statusCode, resHeaders);
      res.on('drain', () => c.resume());
    },
    onResponseData(c, chunk) {
      if (!res.write(chunk)) c.pause();
    },
    onResponseEnd() {
      res.end();
      finish();
    },
    onResponseError(_c, err) {
      if (stopped) return finish();
      // undici refuses some requests before sending them ("OPTIONS *", a second Host header): the
      // client's error, which says nothing about the engine.
      if ((err as { code?: unknown }).code === 'UND_ERR_INVALID_ARG') {
        if (!res.headersSent && !res.destroyed) {
          const answer = errorAnswer(new BadRequestError(`the request cannot be forwarded: ${err.message}`), fn || undefined, false);
          res.writeHead(answer.status, answer.headers).end(answer.body);
          answered(answer);
        }
        return finish();
      }
      if (!clientGone) engineFailed();
      if (resend && !clientGone && !res.headersSent && !req.readableDidRead && neverConnected(err)) {
        finish();
        return resend(REFUSED.has((err as { code?: string }).code ?? ''));
      }
      if (res.headersSent || res.destroyed) {
        res.destroy(err);
      } else {
        const answer = errorAnswer(new EngineRestartedError(), fn || undefined, false);
        res.writeHead(answer.status, answer.headers).end(answer.body);
        answered(answer);
      }
      finish();
    },
  });
  return (reason) => {
    if (finished || stopped) return;
    stopped = reason;
    if (res.headersSent) {
      res.destroy();
    } else {
      const answer = errorAnswer(reason, fn || undefined, false);
      res.writeHead(answer.status, { ...answer.headers, connection: 'close' }).end(answer.body);
      answered(answer);
    }
    controller?.abort(reason);
  };
}
