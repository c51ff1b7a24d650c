// Whether onnxruntime's CUDA execution provider can be used here: an NVIDIA driver, and the
// provider library next to onnxruntime-node's binding (the npm package ships CPU binaries only;
// the CUDA provider is a separate download its install script fetches when allowed). The file
// system is injected so tests can play a GPU machine.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface ProbeFs {
  exists(file: string): boolean;
  readText(file: string): string | undefined;
}

export const realFs: ProbeFs = {
  exists: existsSync,
  readText: (file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  },
};

export interface CudaProbe {
  usable: boolean;
  detail: string;
}

export const CUDA_PROVIDER_LIB = 'libonnxruntime_providers_cuda.so';

export function probeCuda(bindingDir: string | undefined, fs: ProbeFs = realFs): CudaProbe {
  const version = fs.readText('/proc/driver/nvidia/version');
  if (version === undefined && !fs.exists('/dev/nvidiactl')) return { usable: false, detail: 'no NVIDIA driver found' };
  const driver = version?.split('\n')[0]?.trim() ?? 'NVIDIA driver';
  if (!bindingDir || !fs.exists(path.join(bindingDir, CUDA_PROVIDER_LIB))) {
    return { usable: false, detail: `${driver}, but onnxruntime-node has no CUDA provider (${CUDA_PROVIDER_LIB}; install with --onnxruntime-node-install-cuda)` };
  }
  return { usable: true, detail: `${driver}; CUDA provider present` };
}

/** The folder holding onnxruntime-node's native binding for this platform, if there is one. */
export function ortBindingDir(packageDir: string): string | undefined {
  const bin = path.join(packageDir, 'bin');
  try {
    for (const napi of readdirSync(bin)) {
      const dir = path.join(bin, napi, process.platform, process.arch);
      if (existsSync(dir)) return dir;
    }
  } catch {
    return undefined;
  }
  return undefined;
}
