import { describe, expect, it } from 'vitest';
import { HashRing } from './hash-ring.ts';

describe('HashRing', () => {
  it('gives every function a stable home, spread evenly over the engines', () => {
    const ring = new HashRing({ engines: 4 });
    const again = new HashRing({ engines: 4 });
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) {
      const home = ring.home(`fn-${i}`);
      expect(again.home(`fn-${i}`)).toBe(home);
      counts[home]!++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(700);
  });

  it('moves only the functions of an engine that is added', () => {
    const three = new HashRing({ engines: 3 });
    const four = new HashRing({ engines: 4 });
    let moved = 0;
    for (let i = 0; i < 3000; i++) {
      const before = three.home(`fn-${i}`);
      const after = four.home(`fn-${i}`);
      if (before !== after) {
        expect(after).toBe(3);
        moved++;
      }
    }
    expect(moved).toBeGreaterThan(400);
    expect(moved).toBeLessThan(1200);
  });

  it('spills a hot function to its second engine only past the bound', () => {
    const ring = new HashRing({ engines: 2, minSpillLoad: 8, epsilon: 0.25 });
    const [home, spill] = ring.candidates('hot');
    expect(spill).not.toBe(home);
    const load = [0, 0];
    load[home] = 5;
    expect(ring.pick('hot', load)).toBe(home); // under the minimum
    load[home] = 40;
    expect(ring.pick('hot', load)).toBe(spill); // 40 ≥ ceil(1.25 × 41 / 2) = 26
    load[spill] = 40;
    expect(ring.pick('hot', load)).toBe(home); // both full: stay home
  });

  it('remembers a bounded number of names: made-up hosts cannot grow it without end', () => {
    const ring = new HashRing({ engines: 3, cachedNames: 100 });
    const first = ring.home('fn-0');
    for (let i = 1; i < 10_000; i++) ring.home(`made-up-${i}`);
    expect(ring.cachedNames).toBe(100);
    expect(ring.home('fn-0')).toBe(first);
  });

  it('has one candidate with one engine', () => {
    const ring = new HashRing({ engines: 1 });
    expect(ring.candidates('x')).toEqual([0, 0]);
    expect(ring.pick('x', [1000])).toBe(0);
  });
});
