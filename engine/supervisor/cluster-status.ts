// The shape of /_islet/status and the supervisor's lines in /_islet/metrics, the same whether
// the supervisor gathers them from several engines or one engine answers for itself.

/** What the supervisor knows that no engine does. */
export interface SupervisorInfo {
  workers: number;
  functions: number;
  engineRestarts: number;
  engineRecycles: number;
}

export interface EngineStatus {
  pid: number;
  inFlight: number;
  status: Record<string, unknown>;
}

export function clusterStatus(engines: EngineStatus[], info: SupervisorInfo): Record<string, unknown> {
  // Counters and sizes add up across engines; the rest (version, tiers) is the same in each.
  const total: Record<string, unknown> = {};
  for (const { status } of engines) {
    for (const [key, value] of Object.entries(status)) {
      total[key] = typeof value === 'number' ? ((total[key] as number | undefined) ?? 0) + value : (total[key] ?? value);
    }
  }
  return {
    ...total,
    ...info,
    engines: engines.map((e, slot) => ({ slot, pid: e.pid, inFlight: e.inFlight, ...e.status })),
  };
}

export function supervisorMetrics(info: SupervisorInfo): string {
  return [
    '# HELP islet_engine_restarts_total Engine processes that died and were replaced.',
    '# TYPE islet_engine_restarts_total counter',
    `islet_engine_restarts_total ${info.engineRestarts}`,
    '# HELP islet_engine_recycles_total Engine processes replaced for passing their RSS threshold.',
    '# TYPE islet_engine_recycles_total counter',
    `islet_engine_recycles_total ${info.engineRecycles}`,
    '',
  ].join('\n');
}
