// The shape of /_islet/status and the supervisor's lines in /_islet/metrics, the same whether
// the supervisor gathers them from several engines or one engine answers for itself.

/** What the supervisor knows that no engine does. */
export interface SupervisorInfo {
  workers: number;
  functions: number;
  engineRestarts: number;
  engineRecycles: number;
  /** Error answers the supervisor wrote itself, by islet-error code. */
  answers: Record<string, number>;
}

export interface EngineStatus {
  pid: number;
  inFlight: number;
  status: Record<string, unknown>;
}

/** As many rows of `busiest` as one engine lists (engine.ts). */
const BUSIEST_ROWS = 50;

type Fields = Record<string, unknown>;

/**
 * /_islet/status across engines: the top level is what the whole server does (in flight, RSS and
 * cache use summed, the worst lag, shedding if any engine sheds, the heaviest functions of all),
 * and `engines` holds each engine's own answer.
 */
export function clusterStatus(engines: EngineStatus[], info: SupervisorInfo): Record<string, unknown> {
  const statuses = engines.map((e) => e.status);
  const total: Fields = {};
  for (const key of new Set(statuses.flatMap((s) => Object.keys(s)))) {
    const values = statuses.map((s) => s[key]).filter((v) => v !== undefined);
    const merge = MERGES[key];
    total[key] = merge ? merge(values) : sumOrFirst(values);
  }
  return {
    ...total,
    ...info,
    engines: engines.map((e, slot) => ({ slot, pid: e.pid, inFlight: e.inFlight, ...e.status })),
  };
}

/** Fields whose merge is not "add the numbers, keep the rest from the first engine". */
const MERGES: Record<string, (values: unknown[]) => unknown> = {
  scheduler: (values) => {
    const all = objects(values);
    return {
      ...sumFields(all),
      eventLoopLagMs: Math.max(0, ...all.map((s) => num(s.eventLoopLagMs))),
      // The reason of the first engine that sheds (queue, event-loop-lag, memory…): null if none does.
      shedding: all.map((s) => s.shedding).find((r) => r !== null && r !== undefined) ?? null,
    };
  },
  // Engine processes' CPU and RSS add up; null only if no engine has been sampled yet.
  process: (values) => (objects(values).length ? sumFields(objects(values)) : null),
  cache: (values) => sumFields(objects(values)),
  codeCache: (values) => (objects(values).length ? sumFields(objects(values)) : undefined),
  // Each engine keeps its own shelves of templates: per memory size, ready and target add up.
  templates: (values) => mergeBy(values, 'memoryMb', (rows) => ({ ...rows[0], ready: sumOf(rows, 'ready'), target: sumOf(rows, 'target') })),
  busiest: mergeBusiest,
  accel: mergeAccel,
  tiers: mergeTiers,
};

/**
 * Each engine has its own sandboxes of the other tiers: per tier, started and template shelves add
 * up; it is available only if every engine found it so (the first `missing` says why not); the
 * rest (cgroups, confinement: the same host) is the first engine's.
 */
function mergeTiers(values: unknown[]): Fields {
  const merged: Fields = {};
  const all = objects(values);
  for (const name of new Set(all.flatMap((t) => Object.keys(t)))) {
    const tiers = all.map((t) => t[name]).filter(isObject);
    const unavailable = tiers.find((t) => t.available !== true);
    merged[name] = {
      ...tiers[0],
      ...(tiers.some((t) => t.started !== undefined) && { started: sumOf(tiers, 'started') }),
      ...(tiers.some((t) => Array.isArray(t.templates)) && { templates: MERGES.templates!(tiers.map((t) => t.templates)) }),
      ...(unavailable && { available: unavailable.available, ...(unavailable.missing !== undefined && { missing: unavailable.missing }) }),
    };
  }
  return merged;
}

/** A function that spilled is listed by two engines: one row, with both engines' isolates. */
function mergeBusiest(values: unknown[]): Fields[] {
  const rows = mergeBy(values, 'name', (same) => ({
    ...same[0],
    inFlight: sumOf(same, 'inFlight'),
    queued: sumOf(same, 'queued'),
    isolates: same.flatMap((r) => (Array.isArray(r.isolates) ? r.isolates : [])),
    quarantinedForMs: Math.max(0, ...same.map((r) => num(r.quarantinedForMs))),
  }));
  const heap = (row: Fields) => (row.isolates as Fields[]).reduce((sum, i) => sum + num(i.heapMb), 0);
  return rows.sort((a, b) => heap(b) - heap(a)).slice(0, BUSIEST_ROWS);
}

/** Worst first: an engine whose pool failed is what an operator must see. */
const ACCEL_STATES = ['failed', 'starting', 'ready', 'off'];

/** Each engine has its own accelerator pool: its workers and its models' calls add up. */
function mergeAccel(values: unknown[]): Fields | undefined {
  const pools = objects(values);
  const on = pools.filter((p) => p.state !== 'off');
  if (!on.length) return pools[0];
  const rank = (p: Fields) => ACCEL_STATES.indexOf(String(p.state));
  const worst = on.reduce((a, b) => (rank(b) < rank(a) ? b : a));
  const counts = ['workers', 'acceleratorWorkers', 'batchesRunning', 'tenantsWaiting'];
  const models: Fields = {};
  for (const pool of on) {
    for (const [name, model] of Object.entries(isObject(pool.models) ? pool.models : {})) {
      if (!isObject(model)) continue;
      const seen = models[name] as Fields | undefined;
      if (!seen) {
        models[name] = { ...model };
        continue;
      }
      for (const key of ['queued', 'calls', 'batches', 'failedBatches', 'stoppedBatches']) seen[key] = num(seen[key]) + num(model[key]);
      seen.meanBatch = num(seen.batches) ? Math.round((num(seen.calls) / num(seen.batches)) * 10) / 10 : 0;
    }
  }
  return {
    ...on[0],
    state: worst.state,
    ...(worst.error !== undefined && { error: worst.error }),
    ...Object.fromEntries(counts.filter((k) => on.some((p) => p[k] !== undefined)).map((k) => [k, sumOf(on, k)])),
    devices: [...new Set(on.flatMap((p) => (Array.isArray(p.devices) ? p.devices : [])))],
    models,
  };
}

/** Rows of every engine's list, those with the same `key` merged into one by `merge`. */
function mergeBy(values: unknown[], key: string, merge: (rows: Fields[]) => Fields): Fields[] {
  const groups = new Map<unknown, Fields[]>();
  for (const list of values) {
    if (!Array.isArray(list)) continue;
    for (const row of list) {
      if (!isObject(row)) continue;
      const group = groups.get(row[key]);
      if (group) group.push(row);
      else groups.set(row[key], [row]);
    }
  }
  return [...groups.values()].map((rows) => (rows.length === 1 ? rows[0]! : merge(rows)));
}

/** Numbers add up (nested objects field by field); anything else is the first engine's. */
function sumOrFirst(values: unknown[]): unknown {
  if (values.length && values.every((v) => typeof v === 'number')) return (values as number[]).reduce((a, b) => a + b, 0);
  if (values.length && values.every(isObject)) return sumFields(values as Fields[]);
  return values[0];
}

function sumFields(all: Fields[]): Fields {
  const out: Fields = {};
  for (const key of new Set(all.flatMap((o) => Object.keys(o)))) out[key] = sumOrFirst(all.map((o) => o[key]).filter((v) => v !== undefined));
  return out;
}

const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const objects = (values: unknown[]): Fields[] => values.filter(isObject);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const sumOf = (rows: Fields[], key: string): number => rows.reduce((sum, r) => sum + num(r[key]), 0);

export function supervisorMetrics(info: SupervisorInfo): string {
  return [
    '# HELP islet_engine_restarts_total Engine processes that died and were replaced.',
    '# TYPE islet_engine_restarts_total counter',
    `islet_engine_restarts_total ${info.engineRestarts}`,
    '# HELP islet_engine_recycles_total Engine processes replaced for passing their RSS threshold.',
    '# TYPE islet_engine_recycles_total counter',
    `islet_engine_recycles_total ${info.engineRecycles}`,
    // No engine saw these requests: 502 engine-restarted (and, with handoff, answers written to
    // each connection the dead engine held, idle keep-alive ones included), 503 while shutting
    // down or with no engine ready in time. Labelled by islet-error code, a closed set.
    '# HELP islet_supervisor_answers_total Error answers written by the supervisor itself, not by an engine.',
    '# TYPE islet_supervisor_answers_total counter',
    ...Object.entries(info.answers ?? {}).map(([code, n]) => `islet_supervisor_answers_total{error="${code}"} ${n}`),
    '',
  ].join('\n');
}
