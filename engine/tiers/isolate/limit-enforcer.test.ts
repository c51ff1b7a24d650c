import { describe, expect, it } from 'vitest';
import { LimitEnforcer, type MeteredTask } from './limit-enforcer.ts';

function setup(cpuLimitMs: number) {
  const clock = { cpuNs: 0 };
  const events: string[] = [];
  const enforcer = new LimitEnforcer(60_000); // ticks are driven by hand below
  const meter = enforcer.meter<MeteredTask & { name: string }>(cpuLimitMs, {
    readCpuNs: () => clock.cpuNs,
    onCpuLimit: () => events.push('cpu'),
    onWallLimit: (t) => events.push(`wall:${t.name}`),
  });
  const task = (name: string, deadline = Infinity) => ({ name, cpuNs: 0, deadline });
  return { clock, events, enforcer, meter, task };
}

describe('SandboxMeter', () => {
  it('charges a lone request all of the isolate CPU and stops it past the limit', () => {
    const { clock, events, meter, task } = setup(10);
    const t = task('a');
    meter.start(t);
    clock.cpuNs += 6e6;
    expect(meter.sample(0)).toBe(true);
    expect(t.cpuNs).toBe(6e6);
    clock.cpuNs += 5e6;
    expect(meter.sample(0)).toBe(false);
    expect(events).toEqual(['cpu']);
  });

  it('shares a tick between the requests in flight', () => {
    const { clock, meter, task } = setup(10);
    const a = task('a');
    const b = task('b');
    meter.start(a);
    meter.start(b);
    clock.cpuNs += 8e6;
    meter.sample(0);
    expect([a.cpuNs, b.cpuNs]).toEqual([4e6, 4e6]);
    meter.end(a);
    clock.cpuNs += 2e6;
    meter.sample(0);
    expect(b.cpuNs).toBe(6e6);
  });

  it('reports requests past their deadline without stopping the isolate', () => {
    const { events, meter, task } = setup(10);
    meter.start(task('slow', 100));
    expect(meter.sample(50)).toBe(true);
    expect(meter.sample(150)).toBe(true);
    expect(events).toEqual(['wall:slow']);
  });

  it('limits work done with no request in flight to one budget, refilled by the next request', () => {
    const { clock, events, meter, task } = setup(10);
    const t = task('a');
    meter.start(t);
    meter.end(t);
    clock.cpuNs += 6e6;
    expect(meter.sample(0)).toBe(true);
    meter.start(task('b'));
    clock.cpuNs += 1;
    meter.sample(0);
    expect(events).toEqual([]);
    meter.tasks.clear();
    clock.cpuNs += 6e6;
    meter.sample(0);
    clock.cpuNs += 6e6;
    expect(meter.sample(0)).toBe(false);
    expect(events).toEqual(['cpu']);
  });

  it('never charges a tick more than the whole process used: a wall-clock reading on a loaded machine', () => {
    const { clock, events, meter, task } = setup(10);
    const t = task('a');
    meter.start(t);
    // 30 ms passed on the isolate's clock while the process got 3 ms of CPU (waiting for a core).
    clock.cpuNs += 30e6;
    expect(meter.sample(0, 3e6)).toBe(true);
    expect(t.cpuNs).toBe(3e6);
    expect(events).toEqual([]);
    // Without contention the reading stands, and a runaway is still stopped.
    clock.cpuNs += 8e6;
    expect(meter.sample(0, 9e6)).toBe(false);
    expect(events).toEqual(['cpu']);
  });

  it('stops watching an idle isolate, and the watchdog stops when nothing is watched', () => {
    const { enforcer, meter, task } = setup(10);
    const t = task('a');
    meter.start(t);
    expect(enforcer.watching).toBe(1);
    meter.end(t);
    expect(meter.sample(0)).toBe(false);
    meter.stop();
    expect(enforcer.watching).toBe(0);
  });
});

describe('LimitEnforcer', () => {
  it('hands each tick the CPU the process used since the previous one', async () => {
    let processNs = 1e9;
    const enforcer = new LimitEnforcer(1, () => processNs);
    const seen: number[] = [];
    const probe = {
      sample: (_now: number, processCpuNs: number) => {
        seen.push(processCpuNs);
        processNs += 5e6;
        return seen.length < 2;
      },
    };
    enforcer.watch(probe as never);
    processNs += 2e6;
    await expect.poll(() => seen.length).toBe(2);
    expect(seen).toEqual([2e6, 5e6]);
    expect(enforcer.watching).toBe(0);
  });
});
