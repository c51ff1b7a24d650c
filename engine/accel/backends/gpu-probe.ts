// What GPU paths onnxruntime-node can take on this machine, read from the file system (injected, so
// tests can play a GPU machine). Two paths:
//  - CUDA: an NVIDIA driver and onnxruntime's CUDA provider library next to the binding (the npm
//    package ships CPU binaries only; the provider is a separate download its install script
//    fetches when allowed).
//  - WebGPU: the provider onnxruntime-node's own build carries (Dawn, on Vulkan under Linux), a GPU
//    device node and the Vulkan loader. Whether the GPU's Vulkan driver then answers is known only
//    when a session starts; a session that fails falls back to the CPU and says why.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface ProbeFs {
  exists(file: string): boolean;
  readText(file: string): string | undefined;
  list(dir: string): string[];
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
  list: (dir) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  },
};

export interface GpuProbe {
  usable: boolean;
  detail: string;
  /** Libraries a GPU here lacks for WebGPU (what `islet setup gpu` installs). */
  missing?: string[];
}

export const CUDA_PROVIDER_LIB = 'libonnxruntime_providers_cuda.so';
export const VULKAN_LOADER = 'libvulkan.so.1';
export const GLVND = 'libGLdispatch.so.0';

function nvidiaDriver(fs: ProbeFs): string | undefined {
  const version = fs.readText('/proc/driver/nvidia/version');
  if (version === undefined && !fs.exists('/dev/nvidiactl')) return undefined;
  return version?.split('\n')[0]?.trim() || 'NVIDIA driver';
}

export function probeCuda(bindingDir: string | undefined, fs: ProbeFs = realFs): GpuProbe {
  const driver = nvidiaDriver(fs);
  if (!driver) return { usable: false, detail: 'no NVIDIA driver found' };
  if (!bindingDir || !fs.exists(path.join(bindingDir, CUDA_PROVIDER_LIB))) {
    return { usable: false, detail: `${driver}, but onnxruntime-node has no CUDA provider (${CUDA_PROVIDER_LIB}; install with --onnxruntime-node-install-cuda)` };
  }
  return { usable: true, detail: `${driver}; CUDA provider present` };
}

/** `bundled`: onnxruntime-node lists webgpu among its bundled backends. */
export function probeWebGpu(bundled: boolean, fs: ProbeFs = realFs, env: NodeJS.ProcessEnv = process.env): GpuProbe {
  if (!bundled) return { usable: false, detail: 'this onnxruntime-node build has no WebGPU provider' };
  const render = fs.list('/dev/dri').filter((f) => f.startsWith('renderD'));
  const driver = nvidiaDriver(fs);
  if (!driver && render.length === 0) return { usable: false, detail: 'no GPU device (/dev/nvidiactl, /dev/dri/renderD*)' };
  const gpu = driver ?? `/dev/dri/${render[0]}`;
  // The dynamic loader finds libraries through its cache and LD_LIBRARY_PATH; the cache is a
  // binary file that holds each library's name as plain text.
  const dirs = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const cache = fs.readText('/etc/ld.so.cache') ?? '';
  const found = (lib: string) => cache.includes(lib) || dirs.some((d) => fs.exists(path.join(d, lib)));
  // NVIDIA's Vulkan driver lives in its GLX library, which needs libglvnd's dispatcher: without
  // it Dawn finds no adapter (seen on an H100).
  const missing = [...(found(VULKAN_LOADER) ? [] : [VULKAN_LOADER]), ...(driver && !found(GLVND) ? [GLVND] : [])];
  if (missing.length) return { usable: false, detail: `${gpu}, but no ${missing.join(' or ')} (${gpuPackages(missing).join(' and ')} from Debian)`, missing };
  return { usable: true, detail: `${gpu}; Vulkan loader present` };
}

/** What a GPU machine needs for WebGPU beyond its driver, as Debian packages (islet setup gpu). */
export function gpuPackages(missing: string[]): string[] {
  return missing.map((lib) => (lib === GLVND ? 'libglvnd0' : 'libvulkan1'));
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
