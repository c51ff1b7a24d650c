// The accelerator pool's public face.
export { AccelPool, type AccelPoolOptions, type ModelInfo, type RunRequest } from './pool.ts';
export {
  AbortedError, AccelError, AccelTimeoutError, BackendError, BadInputError, OverloadedError, QuotaExceededError,
  UnknownModelError, type AccelErrorCode,
} from './errors.ts';
export { checkModels, type ModelConfig } from './model-config.ts';
export { inferShape } from './signature.ts';
export { isDType, NUMERIC_DTYPES, type DType, type Tensor, type TensorMap, type TensorSpec } from './tensor.ts';
export type { Backend, BackendCapabilities, Capabilities, Device, LoadedModel, ModelPlan, ModelSignature } from './backend.ts';
export type { ProbeReply } from './worker.ts';
