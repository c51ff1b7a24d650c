// The closed model, on autocannon's programmatic API: a fixed number of connections, each sending
// its next request as soon as the last one is answered. Every response is also fed to our
// Recorder, for the per-route breakdown, the timeline and the samples --compare needs.
import autocannon from 'autocannon';
import { nowMs } from './clock.ts';
import { Recorder } from './recorder.ts';

export interface ClosedLoad {
  urls: string[];
  method: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  connections: number;
  durationS: number;
  timeoutS: number;
  /** Draw autocannon's progress bar on stderr (a terminal only). */
  progress: boolean;
}

export interface Measured {
  recorder: Recorder;
  elapsedS: number;
}

export async function runClosed(load: ClosedLoad, startMs = nowMs()): Promise<Measured> {
  const recorder = new Recorder(load.urls, startMs);
  const routeOf = new Map(load.urls.map((u, i) => [u, i]));
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(autocannonOptions(load), (err, done) => (err ? reject(err) : resolve(done)));
    instance.on('response', (client, status, bytes, ms) => {
      // autocannon's client keeps its URL's parts, href included (the type leaves them out).
      const href = (client as unknown as { opts: { href: string } }).opts.href;
      recorder.response(routeOf.get(href) ?? 0, status, bytes, ms, ms, nowMs());
    });
    instance.on('reqError', (err: unknown) => recorder.error(err, nowMs()));
    autocannon.track(instance, { renderProgressBar: load.progress, renderResultsTable: false, renderLatencyTable: false, outputStream: process.stderr });
  });
  return { recorder, elapsedS: result.duration };
}

/** Load that is not measured: warms the server's JIT, caches and connections. */
export async function warmUp(load: Omit<ClosedLoad, 'progress'>): Promise<void> {
  await autocannon(autocannonOptions(load));
}

function autocannonOptions(load: Omit<ClosedLoad, 'progress'>): autocannon.Options {
  return {
    // Several URLs share the connections round-robin (the type allows only one).
    url: load.urls as unknown as string,
    method: load.method as autocannon.Request['method'],
    headers: load.headers,
    ...(load.body && { body: load.body }),
    connections: load.connections,
    duration: load.durationS,
    // autocannon looks at its stop flag once a sample: with its 1 s default a run set for 3 s
    // ended at 4 whenever the third look came just before the timer that sets it (after a warm-up,
    // most runs), and a sub-second one ran a whole second. Every 100 ms, it overruns by that at most.
    // (islet's report is made from its own recorder, not from autocannon's per-sample figures.)
    sampleInt: 100,
    timeout: load.timeoutS,
  };
}
