import { describe, expect, it } from 'vitest';
import { DeficitRoundRobin, type Flow } from './fair-queue.ts';

class TestFlow implements Flow {
  deficitNs = 0;
  inRound = false;
  waiting: number;
  readonly costNs: number;
  readonly name: string;
  constructor(name: string, waiting: number, costNs: number) {
    this.name = name;
    this.waiting = waiting;
    this.costNs = costNs;
  }
}

function drain(drr: DeficitRoundRobin<TestFlow>, steps: number, canSend = (_f: TestFlow) => true): string[] {
  const order: string[] = [];
  for (let i = 0; i < steps; i++) {
    const flow = drr.next(canSend);
    if (!flow) break;
    flow.waiting--;
    order.push(flow.name);
  }
  return order;
}

describe('DeficitRoundRobin', () => {
  it('a flood does not starve a light flow: the light one goes within the first round', () => {
    const drr = new DeficitRoundRobin<TestFlow>(5e6);
    const flood = new TestFlow('flood', 1_000, 1e6);
    const light = new TestFlow('light', 1, 1e6);
    drr.activate(flood);
    drr.activate(light);
    const order = drain(drr, 20);
    expect(order.indexOf('light')).toBe(5);
    expect(order.filter((n) => n === 'light')).toHaveLength(1);
  });

  it('shares cost, not request counts: an expensive flow sends fewer requests', () => {
    const drr = new DeficitRoundRobin<TestFlow>(4e6);
    const heavy = new TestFlow('heavy', 1_000, 8e6);
    const cheap = new TestFlow('cheap', 1_000, 1e6);
    drr.activate(heavy);
    drr.activate(cheap);
    const order = drain(drr, 180);
    const heavyN = order.filter((n) => n === 'heavy').length;
    const cheapN = order.filter((n) => n === 'cheap').length;
    // Equal cost: eight cheap requests for each heavy one.
    expect(cheapN / heavyN).toBeGreaterThan(7);
    expect(cheapN / heavyN).toBeLessThan(9);
  });

  it('skips blocked flows and reports when all are blocked; empty flows leave the round', () => {
    const drr = new DeficitRoundRobin<TestFlow>(1e6);
    const a = new TestFlow('a', 2, 1e6);
    const b = new TestFlow('b', 2, 1e6);
    drr.activate(a);
    drr.activate(b);
    expect(drain(drr, 10, (f) => f !== a)).toEqual(['b', 'b']);
    expect(drr.next((f) => f !== a)).toBeUndefined();
    expect(drain(drr, 10)).toEqual(['a', 'a']);
    expect(drr.next(() => true)).toBeUndefined();
    expect(drr.size).toBe(0);
  });
});
