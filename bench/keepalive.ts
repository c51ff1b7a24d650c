// Keep-alive policies replayed on a synthetic trace shaped like the Azure Functions trace of
// Shahrad et al. (ATC 2020): invocation rates spread over 8 orders of magnitude (most functions
// rare, a few very hot), and three arrival shapes: periodic timers, steady (Poisson) HTTP, and
// bursts. Each function is simulated in virtual time against the real policy classes; an isolate
// costs the host RSS measured here for an idle hello isolate. Prints cold-start share and
// memory-time (GB·s of loaded isolates) per policy.
// A benchmark, not a test: `node --no-node-snapshot bench/keepalive.ts [--functions 1000]`.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FixedTtlPolicy, HistogramPolicy, type KeepAlivePolicy } from '../engine/warm/index.ts';
import { seededRandom } from '../cli/bench/random.ts';
import { sized } from './scale.ts';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

type Shape = 'timer' | 'poisson' | 'bursty';

interface FunctionTrace {
  shape: Shape;
  /** Arrival times (ms) in order, generated afresh on each call from the function's own seed. */
  times(): Iterable<number>;
}

/** One function's invocation pattern over `horizon` ms (generated lazily: hot ones are huge). */
function traceOf(seed: number, horizon: number): FunctionTrace {
  const pick = seededRandom(seed);
  const r = pick();
  const shape: Shape = r < 0.3 ? 'timer' : r < 0.75 ? 'poisson' : 'bursty';
  const periodMin = [1, 5, 10, 15, 30, 60, 120, 240][Math.floor(pick() * 8)]!;
  // Daily rate 10^U, U from -2 to 6 skewed low: most functions run rarely, a few constantly.
  const perDay = 10 ** (8 * pick() ** 2.2 - 2);
  const meanGap = DAY / perDay;
  const times = function* (): Iterable<number> {
    const random = seededRandom(seed * 7919 + 1);
    const gap = () => -Math.log(1 - random()) * meanGap;
    if (shape === 'timer') {
      for (let t = random() * periodMin * MIN; t < horizon; t += periodMin * MIN + (random() - 0.5) * 2_000) yield t;
    } else if (shape === 'poisson') {
      for (let t = gap(); t < horizon; t += gap()) yield t;
    } else {
      // Bursts: quiet gaps 10x the mean, then up to 10 requests a few seconds apart.
      for (let t = gap() * 10; t < horizon; t += gap() * 10) {
        const n = 1 + Math.floor(random() * 10);
        for (let i = 0, at = t; i < n && at < horizon; i++, at += random() * 5_000) yield at;
      }
    }
  };
  return { shape, times };
}

interface Outcome {
  requests: number;
  cold: number;
  loadedMs: number;
}

/** Replays one function's arrivals against a policy; requests are instantaneous. */
function replay(policy: KeepAlivePolicy, fn: string, times: Iterable<number>, horizon: number): Outcome {
  let cold = 0;
  let requests = 0;
  let loadedMs = 0;
  let last: number | undefined;
  let loadedFrom: number | undefined; // set while loaded
  let unloadAt = Infinity;
  let prewarmAt: number | undefined;
  for (const t of times) {
    // Apply what the policy decided after the previous request, up to time t.
    if (prewarmAt !== undefined && prewarmAt <= t && loadedFrom === undefined) loadedFrom = prewarmAt;
    if (loadedFrom !== undefined && unloadAt <= t) {
      loadedMs += Math.max(0, unloadAt - loadedFrom);
      loadedFrom = undefined;
    }
    requests++;
    policy.recordArrival(fn, last === undefined ? undefined : t - last);
    if (loadedFrom === undefined) {
      cold++;
      loadedFrom = t;
    }
    last = t;
    const d = policy.decide(fn);
    prewarmAt = undefined;
    unloadAt = t + d.keepAliveMs;
    if (d.prewarmAfterMs !== undefined && d.prewarmAfterMs > 0) {
      // Unloaded right away; loaded again at the pre-warm time until the keep-alive ends.
      loadedMs += t - loadedFrom!;
      loadedFrom = undefined;
      prewarmAt = t + d.prewarmAfterMs;
    }
  }
  if (prewarmAt !== undefined && prewarmAt < horizon && loadedFrom === undefined) loadedFrom = prewarmAt;
  if (loadedFrom !== undefined) loadedMs += Math.max(0, Math.min(unloadAt, horizon) - loadedFrom);
  return { requests, cold, loadedMs };
}

export async function keepalive(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      functions: { type: 'string', default: sized('1000', '50') },
      days: { type: 'string', default: sized('3', '1') },
      'isolate-mb': { type: 'string', default: '2.9' },
      json: { type: 'string' },
    },
  });
  const n = Number(values.functions);
  const days = Number(values.days);
  const isolateMb = Number(values['isolate-mb']);
  const trace = Array.from({ length: n }, (_, i) => traceOf(20201 + i, days * DAY));
  const policies: [string, () => KeepAlivePolicy][] = [
    ['fixed 10 min', () => new FixedTtlPolicy(10 * MIN)],
    ['fixed 60 min', () => new FixedTtlPolicy(60 * MIN)],
    ['histogram', () => new HistogramPolicy()],
  ];
  const rows = policies.map(([name, make]) => {
    const policy = make();
    let requests = 0;
    let cold = 0;
    let loadedMs = 0;
    const perFunction: number[] = [];
    trace.forEach(({ times }, i) => {
      const o = replay(policy, `f${i}`, times(), days * DAY);
      requests += o.requests;
      cold += o.cold;
      loadedMs += o.loadedMs;
      if (o.requests) perFunction.push((100 * o.cold) / o.requests);
    });
    perFunction.sort((a, b) => a - b);
    const q = (p: number) => +perFunction[Math.floor((perFunction.length - 1) * p)]!.toFixed(1);
    return {
      policy: name,
      requests,
      coldStarts: cold,
      coldPercent: +((100 * cold) / requests).toFixed(4),
      // The paper's view: how cold the typical function's requests are.
      fnColdP50: q(0.5),
      fnColdP75: q(0.75),
      memoryGBs: +((loadedMs / 1000) * (isolateMb / 1024)).toFixed(0),
    };
  });
  console.table(rows);
  const report = { bench: 'keepalive', functions: n, days, isolateMb, shapes: countShapes(trace), date: new Date().toISOString(), rows };
  console.log(JSON.stringify(report));
  if (values.json) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  return rows;
}

function countShapes(trace: { shape: Shape }[]): Record<Shape, number> {
  const out: Record<Shape, number> = { timer: 0, poisson: 0, bursty: 0 };
  for (const t of trace) out[t.shape]++;
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  keepalive(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
