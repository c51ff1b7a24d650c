// Device selection and the CUDA probe, with the machine played by injected capabilities and file
// systems: no GPU is needed to check that one would be chosen.
import { describe, expect, it } from 'vitest';
import type { Capabilities } from './backend.ts';
import { probeCuda, type ProbeFs } from './backends/index.ts';
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
  custom: { backend: 'npu', path: 'm.bin' },
});

describe('selectDevice', () => {
  it('takes the GPU where the backend has one, and the CPU where asked', () => {
    expect(selectDevice('auto', models.auto!, gpuMachine).plan).toEqual({ name: 'auto', backend: 'onnx', device: 'cuda', path: 'm.onnx' });
    expect(selectDevice('wantsCpu', models.wantsCpu!, gpuMachine).plan?.device).toBe('cpu');
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

describe('probeCuda', () => {
  const fs = (files: Record<string, string>): ProbeFs => ({ exists: (f) => f in files, readText: (f) => files[f] });
  const NVIDIA = { '/proc/driver/nvidia/version': 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15\nGCC 12' };

  it('needs both a driver and the CUDA provider library', () => {
    expect(probeCuda('/ort/bin', fs({}))).toEqual({ usable: false, detail: 'no NVIDIA driver found' });
    const noProvider = probeCuda('/ort/bin', fs(NVIDIA));
    expect(noProvider.usable).toBe(false);
    expect(noProvider.detail).toMatch(/550\.54\.15, but onnxruntime-node has no CUDA provider/);
    const ready = probeCuda('/ort/bin', fs({ ...NVIDIA, '/ort/bin/libonnxruntime_providers_cuda.so': '' }));
    expect(ready).toEqual({ usable: true, detail: 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15; CUDA provider present' });
  });
});

describe('checkModels', () => {
  it('fills in defaults and refuses what cannot work', () => {
    expect(checkModels({ m: { path: 'a.onnx', maxBatch: 8 } }).m).toEqual({ path: 'a.onnx', backend: 'onnx', device: 'auto', maxBatch: 8, maxWaitUs: 0, maxQueued: 1024 });
    expect(() => checkModels({ m: { path: 'a.bin' } })).toThrow(/needs a "path" to an .onnx file/);
    expect(() => checkModels({ '@islet/mine': { path: 'a.onnx' } })).toThrow(/may not start with @islet/);
    expect(() => checkModels({ m: { path: 'a.onnx', maxBatch: 0 } })).toThrow(/"maxBatch" must be an integer from 1/);
    expect(() => checkModels({ m: { path: 'a.onnx', device: 'tpu' } })).toThrow(/"device" must be/);
    expect(() => checkModels({ m: { path: 'a.onnx', colour: 'red' } })).toThrow(/unknown field\(s\) colour/);
  });
});
