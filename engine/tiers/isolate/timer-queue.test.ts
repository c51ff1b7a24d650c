import { afterEach, describe, expect, it, vi } from 'vitest';
import { TimerQueue } from './timer-queue.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('TimerQueue', () => {
  it('fires by deadline counted from when the isolate set each timer, then by set order', () => {
    vi.useFakeTimers({ now: 1_000 });
    const fired: number[] = [];
    const queue = new TimerQueue((id) => fired.push(id));
    // All set by the isolate at 1000 but heard of by the host 1.5 ms apart: 2 ms from 1000 is
    // due after 1 ms from 1000, whenever the host learnt of either.
    queue.set(1, 2, 1_000);
    vi.setSystemTime(1_001);
    queue.set(2, 1, 1_000);
    queue.set(3, 0, 1_000);
    queue.set(4, 0, 1_000);
    vi.advanceTimersByTime(5);
    expect(fired).toEqual([3, 4, 2, 1]);
    expect(queue.size).toBe(0);
  });

  it('forgets cleared timers, re-arms a set id, and ignores a set time from the future', () => {
    vi.useFakeTimers({ now: 5_000 });
    const fired: number[] = [];
    const queue = new TimerQueue((id) => fired.push(id));
    queue.set(1, 10, 5_000);
    queue.set(2, 20, 5_000);
    queue.set(3, 30, 5_000);
    queue.clear(2);
    queue.set(1, 40, 5_000); // re-armed later: now after 3
    queue.set(4, 5, 9_999_999); // a clock ahead of the host's counts from now
    expect(queue.size).toBe(3);
    vi.advanceTimersByTime(6);
    expect(fired).toEqual([4]);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual([4, 3, 1]);
    queue.set(5, 1, 5_106);
    queue.clearAll();
    vi.advanceTimersByTime(100);
    expect(fired).toEqual([4, 3, 1]);
    expect(queue.size).toBe(0);
  });

  it('lets a fired callback set and clear timers', () => {
    vi.useFakeTimers({ now: 0 });
    const fired: number[] = [];
    const queue: TimerQueue = new TimerQueue((id) => {
      fired.push(id);
      if (id === 1) {
        queue.clear(2);
        queue.set(3, 0, Date.now());
      }
    });
    queue.set(1, 1, 0);
    queue.set(2, 1, 0);
    vi.advanceTimersByTime(1);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([1, 3]);
  });
});
