import { describe, expect, it } from 'vitest';
import { LimitEnforcer, type MeteredTask } from './limit-enforcer.ts';

function setup(cpuLimitMs: number) {
  const clock = { cpuNs: 0 };
  const events: string[] = [];
  const enforcer = new LimitEnforcer({ intervalMs: 60_000 }); // ticks are driven by hand below
  const meter = enforcer.meter<MeteredTask & { name: string }>(cpuLimitMs, {
    readCpuNs: () => clock.cpuNs,
    onCpuLimit: () => events.push('cpu'),
    onWallLimit: (t) => events.push(`wall:${t.name}`),
  });
  const task = (name: string, deadline = Infinity) => ({ name, cpuNs: 0, deadline });
  // One watchdog tick without a budget: the reading is charged as it is.
  const tick = (now = 0) => meter.charge(now, meter.read());
  return { clock, events, enforcer, meter, task, tick };
}

describe('SandboxMeter', () => {
  it('keeps watching background work until it has run, however long its clock stands still', () => {
    const { clock, events, enforcer, meter, tick } = setup(10);
    meter.background();
    expect(enforcer.watching).toBe(1);
    // The isolate's thread has not got a core yet: no clock advance, but the work is still coming.
    for (let i = 0; i < 5; i++) expect(tick(0)).toBe(true);
    clock.cpuNs += 11e6;
    expect(tick(0)).toBe(false);
    expect(events).toEqual(['cpu']);
  });

  it('gives each turn (a WebSocket message) a limit of its own, but no fresh background budget', () => {
    const { clock, events, meter, tick } = setup(10);
    // Three turns one after another, 8 ms each: under the limit each, though 24 ms together.
    for (let i = 0; i < 3; i++) {
      const turn = meter.startTurn();
      clock.cpuNs += 8e6;
      expect(tick(0)).toBe(true);
      meter.endTurn(turn);
    }
    expect(events).toEqual([]);
    // Background work (a timer) between turns spends one budget, whatever turns come between.
    for (let i = 0; i < 3; i++) {
      meter.background();
      clock.cpuNs += 4e6;
      tick(0);
      meter.endTurn(meter.startTurn());
    }
    expect(events).toEqual(['cpu']);
  });

  it('stops watching once background work has run and the clock stands still', () => {
    const { clock, events, meter, tick } = setup(10);
    const ran = meter.background();
    clock.cpuNs += 1e6;
    expect(tick(0)).toBe(true);
    ran();
    ran();
    expect(tick(0)).toBe(false);
    expect(events).toEqual([]);
  });

  it('charges a lone request all of the isolate CPU and stops it past the limit', () => {
    const { clock, events, meter, task, tick } = setup(10);
    const t = task('a');
    meter.start(t);
    clock.cpuNs += 6e6;
    expect(tick(0)).toBe(true);
    expect(t.cpuNs).toBe(6e6);
    clock.cpuNs += 5e6;
    expect(tick(0)).toBe(false);
    expect(events).toEqual(['cpu']);
  });

  it('shares a tick between the requests in flight', () => {
    const { clock, meter, task, tick } = setup(10);
    const a = task('a');
    const b = task('b');
    meter.start(a);
    meter.start(b);
    clock.cpuNs += 8e6;
    tick(0);
    expect([a.cpuNs, b.cpuNs]).toEqual([4e6, 4e6]);
    meter.end(a);
    clock.cpuNs += 2e6;
    tick(0);
    expect(b.cpuNs).toBe(6e6);
  });

  it('reports requests past their deadline without stopping the isolate', () => {
    const { events, meter, task, tick } = setup(10);
    meter.start(task('slow', 100));
    expect(tick(50)).toBe(true);
    expect(tick(150)).toBe(true);
    expect(events).toEqual(['wall:slow']);
  });

  it('limits work done with no request in flight to one budget, refilled by the next request', () => {
    const { clock, events, meter, task, tick } = setup(10);
    const t = task('a');
    meter.start(t);
    meter.end(t);
    clock.cpuNs += 6e6;
    expect(tick(0)).toBe(true);
    meter.start(task('b'));
    clock.cpuNs += 1;
    tick(0);
    expect(events).toEqual([]);
    meter.tasks.clear();
    clock.cpuNs += 6e6;
    tick(0);
    clock.cpuNs += 6e6;
    expect(tick(0)).toBe(false);
    expect(events).toEqual(['cpu']);
  });

  it("charges no one for the host's own work, nor for the bounded aftermath it leaves", () => {
    const { clock, events, enforcer, meter, task, tick } = setup(10);
    meter.hold();
    expect(enforcer.watching).toBe(1);
    // An idle collection with nothing in flight: watched, but not out of the background budget.
    clock.cpuNs += 25e6;
    expect(tick(0)).toBe(true);
    // A request that arrived meanwhile waits for it without paying for it.
    const t = task('a');
    meter.start(t);
    clock.cpuNs += 25e6;
    tick(0);
    expect(t.cpuNs).toBe(0);
    // Then the next 8 ms go uncharged (growing the heap, compiling again); a second grant does not add to it.
    meter.release(8e6);
    meter.release(5e6);
    clock.cpuNs += 6e6;
    tick(0);
    clock.cpuNs += 6e6;
    tick(0);
    expect(t.cpuNs).toBe(4e6);
    clock.cpuNs += 7e6;
    expect(tick(0)).toBe(false);
    expect(events).toEqual(['cpu']);
  });

  it('stops watching an idle isolate, and the watchdog stops when nothing is watched', () => {
    const { enforcer, meter, task, tick } = setup(10);
    const t = task('a');
    meter.start(t);
    expect(enforcer.watching).toBe(1);
    meter.end(t);
    expect(tick(0)).toBe(false);
    meter.stop();
    expect(enforcer.watching).toBe(0);
  });
});

describe('LimitEnforcer', () => {
  it("scales a tick's readings down to the CPU the isolates' threads can have used", async () => {
    let budget = 0;
    const enforcer = new LimitEnforcer({ intervalMs: 1, readCpuBudgetNs: () => budget });
    const clocks = [0, 0];
    const events: string[] = [];
    const meters = clocks.map((_, i) => enforcer.meter(1_000, { readCpuNs: () => clocks[i]!, onCpuLimit: () => events.push('cpu'), onWallLimit() {} }));
    const tasks = meters.map((meter) => {
      const task = { cpuNs: 0, deadline: Infinity };
      meter.start(task);
      return task;
    });
    // Both clocks say 10 ms went by (a wall-clock reading, waiting for a core); the process's
    // threads other than the event loop used 5 ms in all.
    clocks[0]! += 10e6;
    clocks[1]! += 10e6;
    budget += 5e6;
    await expect.poll(() => tasks[0]!.cpuNs).toBeGreaterThan(0);
    expect(tasks.map((t) => t.cpuNs)).toEqual([2.5e6, 2.5e6]);
    // Readings the budget covers are charged as they are.
    clocks[0]! += 1e6;
    budget += 10e6;
    await expect.poll(() => tasks[0]!.cpuNs).toBe(3.5e6);
    expect(tasks[1]!.cpuNs).toBe(2.5e6);
    expect(events).toEqual([]);
    for (const meter of meters) meter.stop();
    expect(enforcer.watching).toBe(0);
  });

  it("counts the host's own work in an isolate against the budget, though it charges no one", async () => {
    let budget = 0;
    const enforcer = new LimitEnforcer({ intervalMs: 1, readCpuBudgetNs: () => budget });
    const clocks = [0, 0];
    const [collecting, serving] = clocks.map((_, i) => enforcer.meter(1_000, { readCpuNs: () => clocks[i]!, onCpuLimit() {}, onWallLimit() {} }));
    collecting!.hold();
    const task = { cpuNs: 0, deadline: Infinity };
    serving!.start(task);
    // A collection used 5 ms of a core; the request's clock says 10 ms, half of it waiting for one.
    clocks[0]! += 5e6;
    clocks[1]! += 10e6;
    budget += 10e6;
    await expect.poll(() => task.cpuNs).toBeGreaterThan(0);
    expect(task.cpuNs).toBeCloseTo(10e6 * (10 / 15), -1);
    collecting!.stop();
    serving!.stop();
  });

  it("charges the host's time in a sandbox's synchronous calls in full, beside its scaled clock", async () => {
    let budget = 0;
    const enforcer = new LimitEnforcer({ intervalMs: 1, readCpuBudgetNs: () => budget });
    let clock = 0;
    const events: string[] = [];
    const meter = enforcer.meter(10, { readCpuNs: () => clock, onCpuLimit: () => events.push('cpu'), onWallLimit() {} });
    const task = { cpuNs: 0, deadline: Infinity };
    meter.start(task);
    // The isolate's thread waited through the calls (its clock, and the budget, barely moved);
    // the event loop hashed for it.
    clock += 1e6;
    budget += 1e6;
    meter.chargeHost(4e6);
    await expect.poll(() => task.cpuNs).toBe(5e6);
    meter.chargeHost(6e6);
    await expect.poll(() => events).toEqual(['cpu']);
    expect(enforcer.watching).toBe(0);
  });

  it('charges exact clocks (a child process) without a budget', async () => {
    const enforcer = new LimitEnforcer({ intervalMs: 1 });
    let clock = 0;
    const events: string[] = [];
    const meter = enforcer.meter(10, { readCpuNs: () => clock, onCpuLimit: () => events.push('cpu'), onWallLimit() {} });
    meter.start({ cpuNs: 0, deadline: Infinity });
    clock += 11e6;
    await expect.poll(() => events).toEqual(['cpu']);
    expect(enforcer.watching).toBe(0);
  });
});
