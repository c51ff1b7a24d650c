// islet's public face: `import { Engine, islet } from 'islet'`.
export { Engine, type EngineStats, type DeployOptions, type DeployResult, type EngineOptions, type FunctionConfig, type FunctionInfo } from './engine.ts';
export { DEFAULT_LIMITS, ISOLATE_TEARDOWN_SETTLE_MS, resolveLimits, type Limits } from './limits.ts';
export * from './errors.ts';
export type { WireRequest, WireResponse } from './wire.ts';
export { createGateway, functionFromHost, islet, serveGateway, type GatewayOptions, type IsletMiddlewareOptions } from './gateway/index.ts';
export { createLogger, type Logger } from './observe/index.ts';
export { loadConfig, parseConfig, type ServerConfig } from './config.ts';
export { FixedTtlPolicy, HistogramPolicy, type HistogramOptions, type KeepAlivePolicy, type TemplatePoolOptions } from './warm/index.ts';
export { Supervisor, type EngineSettings, type SupervisorOptions } from './supervisor/index.ts';
