// The multi-process layer: a supervisor that owns the socket and runs engines as child processes.
export { Supervisor, type SupervisorStats } from './supervisor.ts';
export { SUPERVISOR_DEFAULTS, type EngineSettings, type SupervisorOptions } from './options.ts';
export { HashRing, type HashRingOptions } from './hash-ring.ts';
export { mergeMetrics } from './metrics-merge.ts';
