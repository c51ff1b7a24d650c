// The open model: requests arrive on a schedule (a fixed rate, or ramp stages) whatever the server
// does, as real users do. A request that finds every connection busy waits in a queue; with
// coordinated-omission correction its latency counts from when it was meant to be sent, so a
// stalled server shows up in the percentiles instead of silently lowering the request rate.
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
  /** Intended send times of arrivals waiting for a connection. */
  waiting: number[];
}

export async function runOpen(load: OpenLoad, recorder = new Recorder(load.urls, load.startMs)): Promise<Recorder> {
  const perRoute = Math.max(1, Math.floor(load.connections / load.threads / load.urls.length));
  const timeoutMs = load.timeoutS * 1000;
  const routes: Route[] = load.urls.map((u, index) => {
    const url = new URL(u);
    const all = Array.from({ length: perRoute }, () => new Client(url.origin, { pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: timeoutMs }));
    return { index, path: url.pathname + url.search, idle: [...all], all, waiting: [] };
  });
  const arrivals = arrivalTimes(load.startRps, load.stages);
  const endMs = load.startMs + load.stages.reduce((s, x) => s + x.durationS, 0) * 1000;
  let next = arrivals.next();
  let index = 0;
  let inFlight = 0;

  await new Promise<void>((resolve) => {
    let finished = false;
    const finishIfDone = () => {
      if (finished || !next.done || inFlight > 0 || routes.some((r) => r.waiting.length > 0)) return;
      finished = true;
      resolve();
    };
    const send = (route: Route, client: Client, intendedMs: number) => {
      inFlight++;
      const sentMs = nowMs();
      client
        .request({ path: route.path, method: load.method as 'GET', headers: load.headers, body: load.body })
        .then(async (res) => {
          let bytes = 0;
          for await (const chunk of res.body) bytes += (chunk as Buffer).length;
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
      while (route.idle.length > 0 && route.waiting.length > 0) send(route, route.idle.pop()!, route.waiting.shift()!);
    };
    const tick = () => {
      const now = nowMs();
      while (!next.done && load.startMs + next.value <= now) {
        if (index % load.threads === load.thread) routes[index % routes.length]!.waiting.push(load.startMs + next.value);
        index++;
        next = arrivals.next();
      }
      for (const r of routes) pump(r);
      if (!next.done) setTimeout(tick, Math.max(0, load.startMs + next.value - nowMs()));
      else {
        // Arrivals still queued a timeout after the schedule ended would never have been served in time.
        setTimeout(() => {
          for (const r of routes) for (const _ of r.waiting.splice(0)) recorder.error(Object.assign(new Error('not sent: every connection stayed busy'), { code: 'ETIMEDOUT' }), endMs);
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
