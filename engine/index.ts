// islet's public face: `import { Engine, islet } from 'islet'`.
export { Engine, type EngineStats, type DeployOptions, type DeployResult, type EngineOptions, type FunctionConfig, type FunctionInfo } from './engine.ts';
export { DEFAULT_LIMITS, ISOLATE_TEARDOWN_SETTLE_MS, resolveLimits, type Limits } from './limits.ts';
export * from './errors.ts';
export type { WireRequest, WireResponse } from './wire.ts';
export { createGateway, functionFromHost, islet, isletWebSocketServer, serveGateway, type GatewayOptions, type IsletMiddlewareOptions } from './gateway/index.ts';
export { createLogger, type Logger } from './observe/index.ts';
export { loadConfig, parseConfig, type ServerConfig } from './config.ts';
export type { QuarantineOptions, SchedOptions, SchedOverrides } from './sched/index.ts';
export { FixedTtlPolicy, HistogramPolicy, type HistogramOptions, type KeepAlivePolicy, type TemplatePoolOptions } from './warm/index.ts';
export { AccelPool, type AccelPoolOptions, type ModelConfig, type ModelInfo } from './accel/index.ts';
export type { AiBindingConfig } from './bindings/index.ts';
export { checkTierFields, CONTAINER_RUNTIMES, ContainerTier, GvisorTier, hostTiers, IsolateTier, MicrovmTier, NEEDS, ProcessTier, TIER_NAMES, type ContainerRuntime, type IsolationTier, type Need, type Sandbox, type SandboxSpec, type TierCapabilities, type TierName, type TierRequest } from './tiers/index.ts';
export { Supervisor, type EngineSettings, type SupervisorOptions } from './supervisor/index.ts';
