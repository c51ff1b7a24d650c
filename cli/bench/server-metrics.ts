// The server's side of a run, for islet targets: /_islet/metrics read just before and just after
// the measured window, and the difference per function (CPU ms, cold starts, limit kills) with
// heap as it stood at the end. Any other answer (404 from a non-islet server, 401 without the
// token) turns the view off with the reason; the run goes on.
import { parsePrometheus, type Sample } from './prometheus.ts';

export const METRICS_PATH = '/_islet/metrics';
const SCRAPE_TIMEOUT_MS = 5_000;

export interface FunctionView {
  function: string;
  requests: number;
  cpuMs: number;
  heapBytes: number;
  coldStarts: number;
  limitKills: Record<string, number>;
  shed: number;
}

export type ServerView =
  | { available: false; reason: string }
  | {
      available: true;
      /** Server process CPU over the window (prom-client's process_cpu_seconds_total), if exported. */
      processCpuMs?: number;
      /** processCpuMs per request the load generator completed, in µs. */
      cpuUsPerRequest?: number;
      rssBytes?: number;
      isolatesAlive?: number;
      functions: FunctionView[];
    };

export type Scrape = { ok: true; samples: Sample[] } | { ok: false; reason: string };

export async function scrapeMetrics(origin: string, token: string | undefined, headers: Record<string, string> = {}): Promise<Scrape> {
  let res: Response;
  try {
    res = await fetch(new URL(METRICS_PATH, origin), {
      headers: { ...headers, ...(token && { authorization: `Bearer ${token}` }) },
      signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS),
    });
  } catch (err) {
    // fetch() says only "fetch failed"; the cause says why (ECONNREFUSED, bad port...).
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, reason: `${METRICS_PATH}: ${cause?.code ?? cause?.message ?? (err as Error).message}` };
  }
  const text = await res.text();
  if (res.status === 401 || res.status === 403) return { ok: false, reason: `${METRICS_PATH} answered ${res.status}: give --admin-token or ISLET_ADMIN_TOKEN` };
  if (res.status !== 200) return { ok: false, reason: `${METRICS_PATH} answered ${res.status}` };
  try {
    return { ok: true, samples: parsePrometheus(text) };
  } catch (err) {
    return { ok: false, reason: `${METRICS_PATH}: ${(err as Error).message}` };
  }
}

/** What changed between two scrapes; `requests` is what the load generator completed. */
export function serverView(before: Scrape, after: Scrape, requests: number): ServerView {
  if (!before.ok) return { available: false, reason: before.reason };
  if (!after.ok) return { available: false, reason: after.reason };
  const delta = (name: string, match: (l: Record<string, string>) => boolean = () => true) => sum(after.samples, name, match) - sum(before.samples, name, match);
  const names = new Set(after.samples.filter((s) => s.name.startsWith('islet_') && s.labels.function !== undefined).map((s) => s.labels.function!));
  const functions: FunctionView[] = [...names].sort().map((fn) => {
    const of = (l: Record<string, string>) => l.function === fn;
    const limits = new Set(after.samples.filter((s) => s.name === 'islet_limit_kills_total' && of(s.labels)).map((s) => s.labels.limit ?? 'unknown'));
    return {
      function: fn,
      requests: delta('islet_requests_total', of),
      cpuMs: round(delta('islet_cpu_seconds_total', of) * 1000),
      heapBytes: sum(after.samples, 'islet_heap_bytes', of),
      coldStarts: delta('islet_cold_starts_total', of),
      limitKills: Object.fromEntries([...limits].sort().map((limit) => [limit, delta('islet_limit_kills_total', (l) => of(l) && l.limit === limit)])),
      shed: delta('islet_shed_total', of),
    };
  });
  const has = (name: string) => after.samples.some((s) => s.name === name);
  const processCpuMs = has('process_cpu_seconds_total') ? round(delta('process_cpu_seconds_total') * 1000) : undefined;
  return {
    available: true,
    ...(processCpuMs !== undefined && { processCpuMs, cpuUsPerRequest: requests ? round((processCpuMs * 1000) / requests) : 0 }),
    ...(has('process_resident_memory_bytes') && { rssBytes: sum(after.samples, 'process_resident_memory_bytes') }),
    ...(has('islet_isolates_alive') && { isolatesAlive: sum(after.samples, 'islet_isolates_alive') }),
    functions,
  };
}

function sum(samples: Sample[], name: string, match: (l: Record<string, string>) => boolean = () => true): number {
  return samples.reduce((n, s) => (s.name === name && match(s.labels) ? n + s.value : n), 0);
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
