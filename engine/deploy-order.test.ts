import { describe, expect, it } from 'vitest';
import { DeployOrder } from './deploy-order.ts';

describe('DeployOrder', () => {
  it('lets the last deploy to start decide, unless it failed', () => {
    const order = new DeployOrder();
    const a = order.start('f');
    const b = order.start('f');
    expect([order.decides('f', a), order.decides('f', b)]).toEqual([false, true]);
    order.failed('f', b);
    expect(order.decides('f', a)).toBe(true);
  });

  it('supersedes what started before a deploy that took effect, or a removal', () => {
    const order = new DeployOrder();
    const a = order.start('f');
    const b = order.start('f');
    order.tookEffect('f', b);
    expect(order.decides('f', a)).toBe(false);
    const c = order.start('f');
    order.removed('f');
    expect(order.decides('f', c)).toBe(false);
    expect(order.decides('g', order.start('g'))).toBe(true);
  });

  it('keeps nothing of a name once nothing of it is loading', () => {
    const order = new DeployOrder();
    for (let i = 0; i < 1000; i++) {
      const ok = order.start(`fn-${i}`);
      order.failed(`fn-${i}`, order.start(`fn-${i}`));
      order.tookEffect(`fn-${i}`, ok);
      order.removed(`fn-${i}`);
    }
    expect(order.loading).toBe(0);
  });
});
