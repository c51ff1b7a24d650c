// For tests that need a GPU: whether onnxruntime's WebGPU provider finds an adapter here, found
// the way the backend would find it (a session on the committed fixture model). Every CI machine
// here has none; the tests that need one skip with the reason, and run on a GPU machine (README).
import { MODELS_DIR } from '../../fixtures/accel/make-models.ts';
import { ortMessage } from './backends/onnx-backend.ts';

/** Why there is no WebGPU adapter here, or undefined when there is one. */
export const noWebGpu: Promise<string | undefined> = (async () => {
  try {
    const { default: ort } = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(`${MODELS_DIR}/mlp-classifier.onnx`, { executionProviders: ['webgpu'], logSeverityLevel: 4 });
    await session.release();
    return undefined;
  } catch (err) {
    return `no WebGPU adapter here (${ortMessage(err)})`;
  }
})();
