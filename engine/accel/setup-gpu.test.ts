// islet setup gpu, with the machine and apt-get played.
import { describe, expect, it } from 'vitest';
import { setupGpu } from './setup-gpu.ts';

describe('setupGpu', () => {
  const run = (probe: Parameters<typeof setupGpu>[1], ok = true) => {
    const lines: string[] = [];
    const asked: string[][] = [];
    const result = setupGpu((l) => lines.push(l), probe, (packages) => {
      asked.push(packages);
      return ok ? { ok: true } : { ok: false, why: 'not root' };
    });
    return { result, lines, asked };
  };

  it('installs what a GPU lacks for WebGPU, and only that', () => {
    const nvidia = run(() => ({ usable: false, detail: 'NVIDIA, but no libvulkan.so.1 or libGLdispatch.so.0', missing: ['libvulkan.so.1', 'libGLdispatch.so.0'] }));
    expect(nvidia.asked).toEqual([['libvulkan1', 'libglvnd0']]);
    expect(nvidia.result).toEqual({ installed: ['libvulkan1', 'libglvnd0'] });
    expect(run(() => ({ usable: false, detail: 'x', missing: ['libGLdispatch.so.0'] })).asked).toEqual([['libglvnd0']]);
  });

  it('installs nothing without a GPU or when all is there, and says why when it cannot', () => {
    const none = run(() => ({ usable: false, detail: 'no GPU device (/dev/nvidiactl, /dev/dri/renderD*)' }));
    expect(none).toMatchObject({ result: { installed: [] }, asked: [] });
    expect(none.lines[0]).toMatch(/nothing to install for WebGPU: no GPU device/);
    const ready = run(() => ({ usable: true, detail: 'NVIDIA; Vulkan loader present' }));
    expect(ready).toMatchObject({ result: { installed: [] }, asked: [] });
    const refused = run(() => ({ usable: false, detail: 'x', missing: ['libvulkan.so.1'] }), false);
    expect(refused.result).toEqual({ installed: [], skipped: 'not root' });
    expect(refused.lines.at(-1)).toMatch(/not installing libvulkan1: not root; models stay on the CPU/);
  });
});
