// Device selection and the CUDA probe, with the machine played by injected capabilities and file
// systems: no GPU is needed to check that one would be chosen.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Capabilities } from './backend.ts';
import { probeCuda, probeWebGpu, type ProbeFs } from './backends/index.ts';
import { selectDevice } from './device-select.ts';
import { checkModels } from './model-config.ts';

const gpuMachine: Capabilities = {
  cpu: { available: true, devices: ['cpu'] },
  onnx: { available: true, devices: ['cuda', 'cpu'], detail: 'cuda: driver 550' },
};
const cpuMachine: Capabilities = {
  cpu: { available: true, devices: ['cpu'] },
  onnx: { available: true, devices: ['cpu'], detail: 'cuda: no NVIDIA driver found' },
};
const models = checkModels({
  auto: { path: 'm.onnx' },
  wantsCuda: { path: 'm.onnx', device: 'cuda' },
  wantsCpu: { path: 'm.onnx', device: 'cpu' },
  wantsWebGpu: { path: 'm.onnx', device: 'webgpu' },
  custom: { backend: 'npu', path: 'm.bin' },
});

describe('selectDevice', () => {
  it('takes the GPU where the backend has one, and the CPU where asked', () => {
    // "auto" plans the GPU and asks for it to be timed against the CPU at the model's batch size.
    expect(selectDevice('auto', models.auto!, gpuMachine).plan).toEqual({ name: 'auto', backend: 'onnx', device: 'cuda', path: 'm.onnx', compare: { rows: 32 } });
    expect(selectDevice('wantsCuda', models.wantsCuda!, gpuMachine).plan).toEqual({ name: 'wantsCuda', backend: 'onnx', device: 'cuda', path: 'm.onnx' });
    expect(selectDevice('wantsCpu', models.wantsCpu!, gpuMachine).plan?.device).toBe('cpu');
  });

  it('plans WebGPU where the backend offers it, and only there', () => {
    const webgpuMachine: Capabilities = { ...cpuMachine, onnx: { available: true, devices: ['webgpu', 'cpu'], detail: 'webgpu: Vulkan loader present' } };
    expect(selectDevice('auto', models.auto!, webgpuMachine).plan).toMatchObject({ device: 'webgpu', compare: { rows: 32 } });
    expect(selectDevice('wantsWebGpu', models.wantsWebGpu!, webgpuMachine)).toMatchObject({ plan: { device: 'webgpu' }, fallback: undefined });
    expect(selectDevice('wantsWebGpu', models.wantsWebGpu!, webgpuMachine).plan).not.toHaveProperty('compare');
    expect(selectDevice('wantsWebGpu', models.wantsWebGpu!, gpuMachine)).toMatchObject({ plan: { device: 'cuda' }, fallback: expect.stringMatching(/^webgpu is not available to backend "onnx"/) });
  });

  it('falls back to the CPU, saying why, when CUDA is asked for and absent', () => {
    expect(selectDevice('auto', models.auto!, cpuMachine)).toEqual({ plan: { name: 'auto', backend: 'onnx', device: 'cpu', path: 'm.onnx' }, fallback: undefined });
    const chosen = selectDevice('wantsCuda', models.wantsCuda!, cpuMachine);
    expect(chosen.plan?.device).toBe('cpu');
    expect(chosen.fallback).toMatch(/cuda is not available to backend "onnx".*no NVIDIA driver/);
  });

  it('reports a missing or unavailable backend as the model\'s error', () => {
    expect(selectDevice('custom', models.custom!, gpuMachine).error).toMatch(/no backend named "npu"/);
    const noOrt: Capabilities = { ...cpuMachine, onnx: { available: false, devices: [], detail: 'onnxruntime-node is not installed' } };
    expect(selectDevice('auto', models.auto!, noOrt)).toEqual({ error: 'backend "onnx" is not available here: onnxruntime-node is not installed' });
  });
});

const fs = (files: Record<string, string>): ProbeFs => ({
  exists: (f) => f in files,
  readText: (f) => files[f],
  list: (dir) => Object.keys(files).filter((f) => path.dirname(f) === dir).map((f) => path.basename(f)),
});
const NVIDIA = { '/proc/driver/nvidia/version': 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15\nGCC 12' };
/** /etc/ld.so.cache is binary; library names sit in it as plain text. */
const LOADER = { '/etc/ld.so.cache': 'ld.so-1.7.0\0libvulkan.so.1\0/usr/lib/x86_64-linux-gnu/libvulkan.so.1\0libGLdispatch.so.0\0' };
const LOADER_ONLY = { '/etc/ld.so.cache': 'ld.so-1.7.0\0libvulkan.so.1\0/usr/lib/x86_64-linux-gnu/libvulkan.so.1\0' };

describe('probeCuda', () => {
  it('needs both a driver and the CUDA provider library', () => {
    expect(probeCuda('/ort/bin', fs({}))).toEqual({ usable: false, detail: 'no NVIDIA driver found' });
    const noProvider = probeCuda('/ort/bin', fs(NVIDIA));
    expect(noProvider.usable).toBe(false);
    expect(noProvider.detail).toMatch(/550\.54\.15, but onnxruntime-node has no CUDA provider/);
    const ready = probeCuda('/ort/bin', fs({ ...NVIDIA, '/ort/bin/libonnxruntime_providers_cuda.so': '' }));
    expect(ready).toEqual({ usable: true, detail: 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15; CUDA provider present' });
  });
});

describe('probeWebGpu', () => {
  it('needs the provider in onnxruntime\'s build, a GPU device and the Vulkan loader', () => {
    expect(probeWebGpu(false, fs({ ...NVIDIA, ...LOADER }), {})).toEqual({ usable: false, detail: 'this onnxruntime-node build has no WebGPU provider' });
    expect(probeWebGpu(true, fs(LOADER), {})).toEqual({ usable: false, detail: 'no GPU device (/dev/nvidiactl, /dev/dri/renderD*)' });
    expect(probeWebGpu(true, fs(NVIDIA), {}).detail).toMatch(/550\.54\.15, but no libvulkan\.so\.1 or libGLdispatch\.so\.0 \(libvulkan1 and libglvnd0 from Debian\)$/);
    // NVIDIA's Vulkan driver needs libglvnd too.
    expect(probeWebGpu(true, fs({ ...NVIDIA, ...LOADER_ONLY }), {}).detail).toMatch(/, but no libGLdispatch\.so\.0 \(libglvnd0 from Debian\)$/);
    expect(probeWebGpu(true, fs({ ...NVIDIA, ...LOADER }), {})).toEqual({ usable: true, detail: 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15; Vulkan loader present' });
  });

  it('takes any render node as a GPU, and a loader found on LD_LIBRARY_PATH', () => {
    const machine = fs({ '/dev/dri/card0': '', '/dev/dri/renderD128': '', '/opt/vk/libvulkan.so.1': '' });
    expect(probeWebGpu(true, machine, {}).detail).toBe('/dev/dri/renderD128, but no libvulkan.so.1 (libvulkan1 from Debian)');
    expect(probeWebGpu(true, machine, { LD_LIBRARY_PATH: '/usr/local/lib::/opt/vk' })).toEqual({ usable: true, detail: '/dev/dri/renderD128; Vulkan loader present' });
    expect(probeWebGpu(true, fs({ '/dev/dri/card0': '', ...LOADER }), {}).usable).toBe(false);
  });
});

describe('checkModels', () => {
  it('fills in defaults and refuses what cannot work', () => {
    expect(checkModels({ m: { path: 'a.onnx', maxBatch: 8 } }).m).toEqual({ path: 'a.onnx', backend: 'onnx', device: 'auto', maxBatch: 8, maxWaitUs: 0, maxQueued: 1024, maxBatchBytes: 4 * 1024 * 1024 });
    expect(checkModels({ m: { path: 'a.onnx', maxBatchBytes: 1024 } }).m!.maxBatchBytes).toBe(1024);
    expect(() => checkModels({ m: { path: 'a.onnx', maxBatchBytes: 0.5 } })).toThrow(/"maxBatchBytes" must be an integer from 1/);
    expect(() => checkModels({ m: { path: 'a.bin' } })).toThrow(/needs a "path" to an .onnx file/);
    expect(() => checkModels({ '@islet/mine': { path: 'a.onnx' } })).toThrow(/may not start with @islet/);
    expect(() => checkModels({ m: { path: 'a.onnx', maxBatch: 0 } })).toThrow(/"maxBatch" must be an integer from 1/);
    expect(() => checkModels({ m: { path: 'a.onnx', device: 'tpu' } })).toThrow(/"device" must be/);
    expect(() => checkModels({ m: { path: 'a.onnx', colour: 'red' } })).toThrow(/unknown field\(s\) colour/);
  });
});
