import { describe, expect, it } from 'vitest';
import { clusterStatus, type EngineStatus } from './cluster-status.ts';

const INFO = { workers: 2, functions: 3, engineRestarts: 0, engineRecycles: 0, answers: {} };

function engine(pid: number, status: Record<string, unknown>): EngineStatus {
  return { pid, inFlight: 0, status };
}

const isolate = (heapMb: number) => ({ inFlight: 0, heapMb, cpuMs: 1 });

describe('clusterStatus', () => {
  it('merges what each engine reports: sums where a sum means something, the worst lag, shedding if any engine sheds', () => {
    const a = engine(11, {
      liveIsolates: 2, rssMb: 100, tier: 'isolate',
      scheduler: { inFlight: 3, eventLoopLagMs: 5, shedding: null },
      process: { cpuPercent: 10, rssMb: 100 },
      cache: { usedMb: 1.5, maxMb: 64 },
      codeCache: { entries: 1, bytes: 100, hits: 2, misses: 1, rejected: 0 },
      templates: [{ memoryMb: 128, ready: 1, target: 2 }],
      busiest: [{ name: 'spilled', inFlight: 1, queued: 0, isolates: [isolate(3)], quarantinedForMs: 0 }, { name: 'small', inFlight: 0, queued: 0, isolates: [isolate(1)], quarantinedForMs: 0 }],
      accel: { state: 'off', reason: 'no function has an AI binding yet' },
    });
    const b = engine(22, {
      liveIsolates: 5, rssMb: 200, tier: 'isolate',
      scheduler: { inFlight: 4, eventLoopLagMs: 80, shedding: 'event-loop-lag' },
      process: null,
      cache: { usedMb: 2, maxMb: 64 },
      codeCache: { entries: 2, bytes: 50, hits: 1, misses: 1, rejected: 1 },
      templates: [{ memoryMb: 128, ready: 2, target: 2 }, { memoryMb: 256, ready: 1, target: 1 }],
      busiest: [{ name: 'big', inFlight: 2, queued: 1, isolates: [isolate(9)], quarantinedForMs: 0 }, { name: 'spilled', inFlight: 2, queued: 4, isolates: [isolate(4)], quarantinedForMs: 500 }],
      accel: { state: 'ready', workers: 2, batchesRunning: 1, tenantsWaiting: 0, devices: ['cpu'], models: { m: { backend: 'onnx', queued: 1, calls: 10, batches: 5, meanBatch: 2, failedBatches: 0, stoppedBatches: 0 } } },
    });
    const status = clusterStatus([a, b], INFO);
    expect(status).toMatchObject({
      liveIsolates: 7, rssMb: 300, tier: 'isolate', functions: 3, workers: 2,
      scheduler: { inFlight: 7, eventLoopLagMs: 80, shedding: 'event-loop-lag' },
      process: { cpuPercent: 10, rssMb: 100 },
      cache: { usedMb: 3.5, maxMb: 128 },
      codeCache: { entries: 3, bytes: 150, hits: 3, misses: 2, rejected: 1 },
      templates: [{ memoryMb: 128, ready: 3, target: 4 }, { memoryMb: 256, ready: 1, target: 1 }],
      accel: { state: 'ready', workers: 2, models: { m: { calls: 10 } } },
    });
    // Heaviest first across engines; a function on two engines is one row with both its isolates.
    expect(status.busiest).toEqual([
      { name: 'big', inFlight: 2, queued: 1, isolates: [isolate(9)], quarantinedForMs: 0 },
      { name: 'spilled', inFlight: 3, queued: 4, isolates: [isolate(3), isolate(4)], quarantinedForMs: 500 },
      { name: 'small', inFlight: 0, queued: 0, isolates: [isolate(1)], quarantinedForMs: 0 },
    ]);
    expect((status.engines as { pid: number; scheduler: unknown }[]).map((e) => [e.pid, e.scheduler])).toEqual([[11, a.status.scheduler], [22, b.status.scheduler]]);
  });

  it('keeps the worst accelerator state and adds up the models of every engine whose pool is on', () => {
    const pool = (state: string, calls: number) => ({ state, workers: 1, batchesRunning: 0, tenantsWaiting: 0, devices: [], models: { m: { queued: 0, calls, batches: calls, meanBatch: 1, failedBatches: 0, stoppedBatches: 0 } } });
    const status = clusterStatus([engine(1, { accel: pool('ready', 4) }), engine(2, { accel: { ...pool('failed', 2), error: 'no device' } })], INFO);
    expect(status.accel).toMatchObject({ state: 'failed', error: 'no device', workers: 2, models: { m: { calls: 6, batches: 6, meanBatch: 1 } } });
  });

  it('merges the other tiers: started and templates add up, available only where every engine found it so', () => {
    const tier = (started: number, ready: number, available: boolean | string, missing?: string) => ({ available, ...(missing && { missing }), started, templates: [{ memoryMb: 128, ready, target: 1 }], cgroups: 'v2' });
    const status = clusterStatus([engine(1, { tiers: { process: tier(2, 1, true) } }), engine(2, { tiers: { process: tier(3, 0, false, 'no unshare'), gvisor: tier(0, 0, 'not checked yet') } })], INFO);
    expect(status.tiers).toEqual({
      process: { available: false, missing: 'no unshare', started: 5, templates: [{ memoryMb: 128, ready: 1, target: 2 }], cgroups: 'v2' },
      gvisor: { available: 'not checked yet', started: 0, templates: [{ memoryMb: 128, ready: 0, target: 1 }], cgroups: 'v2' },
    });
  });

  it('reports one engine as it is', () => {
    const status = { scheduler: { inFlight: 1, eventLoopLagMs: 2, shedding: null }, process: null, busiest: [{ name: 'a', inFlight: 0, queued: 0, isolates: [isolate(1)], quarantinedForMs: 0 }], tier: 'isolate' };
    const { engines: _engines, workers: _w, functions: _f, engineRestarts: _r, engineRecycles: _c, answers: _a, ...top } = clusterStatus([engine(1, status)], INFO);
    expect(top).toEqual(status);
  });
});
