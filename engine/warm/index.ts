export { CodeCache, type CodeCacheOptions, type CodeCacheStats } from './code-cache.ts';
export { createSnapshot, runtimeSnapshot, type Snapshot } from './runtime-snapshot.ts';
export { TemplatePool, type Template, type TemplatePoolOptions } from './template-pool.ts';
export {
  FixedTtlPolicy, HistogramPolicy, type HistogramOptions, type KeepAliveDecision, type KeepAlivePolicy,
} from './keep-alive.ts';
export { Residency, type ResidencyOptions, type ResidencyStats, type ResidentSlot } from './residency.ts';
