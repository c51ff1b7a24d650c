// The open model: requests arrive on a schedule (a fixed rate, or ramp stages) whatever the server
// does, as real users do. A request that finds every connection busy waits in a queue; with
// coordinated-omission correction its latency counts from when it was meant to be sent, so a
// stalled server shows up in the percentiles instead of silently lowering the request rate.
import { STATUS_CODES } from 'node:http';
import { Client } from 'undici';
import { nowMs } from './clock.ts';
import type { Stage } from './flags.ts';
import { Recorder } from './recorder.ts';
import { arrivalTimes } from './schedule.ts';

export interface OpenLoad {
  urls: string[];
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  /** Connections across all threads; each thread opens its share per route. */
  connections: number;
  timeoutS: number;
  correction: boolean;
  startRps: number;
  stages: Stage[];
  /** Absolute start time (epoch ms), shared by all threads so their seconds line up. */
  startMs: number;
  /** This thread sends arrival i when i % threads === thread. */
  thread: number;
  threads: number;
}

interface Route {
  index: number;
  path: string;
  idle: Client[];
  all: Client[];
  /** Intended send times of arrivals waiting for a connection, from `head` on (a FIFO). */
  waiting: number[];
  head: number;
}

/**
 * The bytes of a response's status line and headers as they came over the wire, give or take the
 * reason phrase: autocannon (the closed model) counts whole responses as read off the socket, and
 * so must this, or the two models' throughput would not compare.
 */
function headBytes(status: number, headers: Record<string, string | string[] | undefined>): number {
  let n = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n\r\n`.length;
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value ?? '']) n += name.length + 2 + Buffer.byteLength(v) + 2;
  }
  return n;
}

function queued(route: Route): number {
  return route.waiting.length - route.head;
}

export async function runOpen(load: OpenLoad, recorder = new Recorder(load.urls, load.startMs)): Promise<Recorder> {
  const perRoute = Math.max(1, Math.floor(load.connections / load.threads / load.urls.length));
  const timeoutMs = load.timeoutS * 1000;
  const routes: Route[] = load.urls.map((u, index) => {
    const url = new URL(u);
    const all = Array.from({ length: perRoute }, () => new Client(url.origin, { pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: timeoutMs }));
    return { index, path: url.pathname + url.search, idle: [...all], all, waiting: [], head: 0 };
  });
  const arrivals = arrivalTimes(load.startRps, load.stages);
  const endMs = load.startMs + load.stages.reduce((s, x) => s + x.durationS, 0) * 1000;
  let next = arrivals.next();
  let index = 0;
  let inFlight = 0;

  await new Promise<void>((resolve) => {
    let finished = false;
    const finishIfDone = () => {
      if (finished || !next.done || inFlight > 0 || routes.some((r) => queued(r) > 0)) return;
      finished = true;
      resolve();
    };
    const send = (route: Route, client: Client, intendedMs: number) => {
      inFlight++;
      const sentMs = nowMs();
      client
        .request({ path: route.path, method: load.method as 'GET', headers: load.headers, body: load.body })
        .then(async (res) => {
          let bytes = headBytes(res.statusCode, res.headers);
          const chunked = String(res.headers['transfer-encoding'] ?? '').includes('chunked');
          for await (const chunk of res.body) {
            const n = (chunk as Buffer).length;
            // Chunked framing, "<hex length>\r\n…\r\n", as if each chunk read was one sent.
            bytes += chunked ? n + n.toString(16).length + 4 : n;
          }
          if (chunked) bytes += 5; // the last chunk, "0\r\n\r\n"
          const doneMs = nowMs();
          recorder.response(route.index, res.statusCode, bytes, doneMs - sentMs, load.correction ? doneMs - intendedMs : doneMs - sentMs, doneMs);
        })
        .catch((err: unknown) => recorder.error(err, nowMs()))
        .finally(() => {
          inFlight--;
          route.idle.push(client);
          pump(route);
          finishIfDone();
        });
    };
    const pump = (route: Route) => {
      while (route.idle.length > 0 && queued(route) > 0) send(route, route.idle.pop()!, route.waiting[route.head++]!);
      // Drop what was sent once it is most of the array: shift() would make an overload quadratic.
      if (route.head > 1024 && route.head * 2 > route.waiting.length) {
        route.waiting = route.waiting.slice(route.head);
        route.head = 0;
      }
    };
    const tick = () => {
      const now = nowMs();
      while (!next.done && load.startMs + next.value <= now) {
        // This thread's own arrivals go round its routes, so every thread uses all its connections.
        if (index % load.threads === load.thread) routes[Math.floor(index / load.threads) % routes.length]!.waiting.push(load.startMs + next.value);
        index++;
        next = arrivals.next();
      }
      for (const r of routes) pump(r);
      if (!next.done) setTimeout(tick, Math.max(0, load.startMs + next.value - nowMs()));
      else {
        // Arrivals still queued a timeout after the schedule ended would never have been served in time.
        setTimeout(() => {
          for (const r of routes) {
            for (let n = queued(r); n > 0; n--) recorder.error(Object.assign(new Error('not sent: every connection stayed busy'), { code: 'ETIMEDOUT' }), endMs);
            r.waiting = [];
            r.head = 0;
          }
          finishIfDone();
        }, Math.max(0, endMs + timeoutMs - nowMs())).unref();
        finishIfDone();
      }
    };
    setTimeout(tick, Math.max(0, load.startMs - nowMs()));
  });
  await Promise.all(routes.flatMap((r) => r.all.map((c) => c.close())));
  return recorder;
}
