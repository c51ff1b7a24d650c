// What tenants get in `env` besides plain values: today the AI binding (env.AI).
export { aiFailure, aiHost, checkAiBinding, runtimeAiLimits, tensorsFromWire, type AiBindingConfig, type AiHost, type ResolvedAiBinding, type WireTensor } from './ai-binding.ts';
export { checkServices, withServices, type CallFunction } from './service-binding.ts';
