export { createLogger, silentLogger, type Logger, type LogOptions } from './log.ts';
export { mappingCount, maxMapCount } from './mappings.ts';
