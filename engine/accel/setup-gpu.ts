// `islet setup gpu`: what the WebGPU path needs on a GPU machine beyond its driver, from Debian
// (the Vulkan loader, and libglvnd for NVIDIA's driver). Nothing on a machine without a GPU; never
// fails: without root or apt-get it says what to install.
import { aptInstall, type AptResult } from '../apt-install.ts';
import { gpuPackages, probeWebGpu, type GpuProbe } from './backends/gpu-probe.ts';

export interface GpuSetup {
  installed: string[];
  /** Why nothing was installed, when something was missing and could not be. */
  skipped?: string;
}

export function setupGpu(
  log: (line: string) => void = console.log,
  probe: () => GpuProbe = () => probeWebGpu(true),
  install: (packages: string[], log: (line: string) => void) => AptResult = aptInstall,
): GpuSetup {
  const found = probe();
  if (found.usable) {
    log(`islet setup: WebGPU can reach the GPU here (${found.detail})`);
    return { installed: [] };
  }
  if (!found.missing) {
    log(`islet setup: nothing to install for WebGPU: ${found.detail}`);
    return { installed: [] };
  }
  const packages = gpuPackages(found.missing);
  const result = install(packages, log);
  if (!result.ok) {
    log(`islet setup: not installing ${packages.join(', ')}: ${result.why}; models stay on the CPU`);
    return { installed: [], skipped: result.why };
  }
  return { installed: packages };
}
