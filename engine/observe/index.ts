export { createLogger, silentLogger, type Logger, type LogOptions } from './log.ts';
export { LogTap, ndjsonStream, type Follower, type TapRecord } from './log-tap.ts';
export { mappingCount, maxMapCount } from './mappings.ts';
export { EngineMetrics, FunctionMeter, type FunctionGauges, type LimitLabel, type MetricsSource } from './metrics.ts';
export { ResourceMonitor, type ProcessUsage } from './resource-monitor.ts';
