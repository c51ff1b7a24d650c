// The system-layer benches run on a tiny duration and produce well-formed reports. Their figures
// are never asserted: this machine is shared and two seconds of load say nothing.
import { describe, expect, it, vi } from 'vitest';
import { noisyNeighbour } from './noisy-neighbour.ts';
import { replicasBench } from './replicas.ts';
import { soak } from './soak.ts';

// The benches print tables and JSON; keep the test output readable.
vi.spyOn(console, 'log').mockImplementation(() => {});
vi.spyOn(console, 'table').mockImplementation(() => {});
vi.spyOn(console, 'error').mockImplementation(() => {});

describe('system benches (smoke)', () => {
  it('noisy-neighbour compares the good tenant alone and with neighbours, after the machine\'s floor', async () => {
    const report = (await noisyNeighbour(['--duration', '1', '--rate', '100', '--flood', '10'])) as Record<string, any>;
    expect(report.rows.map((r: { phase: string }) => r.phase)).toEqual(['machine floor (bare node:http, alone)', 'solo', 'with neighbours']);
    expect(report.machineFloorP99Ms).toBe(report.rows[0].p99Ms);
    for (const row of report.rows) expect(row).toMatchObject({ reqPerSec: expect.any(Number), p50Ms: expect.any(Number), p99Ms: expect.any(Number), errors: expect.any(Number) });
    expect(report.neighbours.map((n: { name: string }) => n.name)).toEqual(['spin', 'alloc', 'flood']);
    // Where the CPU went: the engine's event loop is told apart from its other threads.
    expect(report.cpu.map((g: { group: string }) => g.group)).toContain('engine: event loop');
    expect(typeof report.pass).toBe('boolean');
    // The spinner was stopped for its CPU limit at least once.
    expect(report.limitKills.spin).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('noisy-neighbour runs the neighbours it is given, and refuses one it does not know', async () => {
    const report = (await noisyNeighbour(['--duration', '1', '--rate', '100', '--neighbours', 'flood', '--flood', '10', '--floor', 'off'])) as Record<string, any>;
    expect(report.rows.map((r: { phase: string }) => r.phase)).toEqual(['solo', 'with flood']);
    expect(report.machineFloorP99Ms).toBeNull();
    expect(report.neighbours.map((n: { name: string }) => n.name)).toEqual(['flood']);
    await expect(noisyNeighbour(['--neighbours', 'spin,mine'])).rejects.toThrow(/--neighbours/);
    await expect(noisyNeighbour(['--floor', 'maybe'])).rejects.toThrow(/--floor/);
  }, 60_000);

  it('replicas measures maxReplicas 1 against 2', async () => {
    const report = (await replicasBench(['--duration', '1', '--connections', '4', '--work-ms', '2'])) as Record<string, any>;
    expect(report.rows.map((r: { maxReplicas: number }) => r.maxReplicas)).toEqual([1, 2]);
    expect(report.rows[0].replicasUnderLoad).toBe(1);
    expect(report.ratio).toEqual(expect.any(Number));
  }, 60_000);

  it('soak samples errors and RSS over time', async () => {
    const report = (await soak(['--duration', '3', '--interval', '1', '--hostile-every', '1', '--functions', '5', '--connections', '10'])) as Record<string, any>;
    expect(report.samples.length).toBeGreaterThanOrEqual(2);
    expect(report.samples[0]).toMatchObject({ atS: expect.any(Number), rssMb: expect.any(Number), errors: expect.any(Number), isolates: expect.any(Number) });
    expect(report.summary).toMatchObject({ requests: expect.any(Number), rssFlat: expect.any(Boolean) });
    expect(report.summary.hostile.requests).toBeGreaterThan(0);
  }, 60_000);
});
