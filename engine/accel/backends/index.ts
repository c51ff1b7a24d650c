// The backends every pool worker has. More can be added per pool (AccelPoolOptions.backendModules).
import type { Backend } from '../backend.ts';
import { cpuBackend } from './cpu-backend.ts';
import { onnxBackend } from './onnx-backend.ts';

export const BUILTIN_BACKENDS: readonly Backend[] = [cpuBackend, onnxBackend];
export { EMBED_MODEL, TOP_K_MODEL } from './cpu-backend.ts';
export { EMBED_DIMS } from './text-embed.ts';
export { probeCuda, probeWebGpu, type ProbeFs } from './gpu-probe.ts';
