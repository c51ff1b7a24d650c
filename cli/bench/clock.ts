// One clock for every thread: worker threads have their own performance.timeOrigin, so times are
// absolute (epoch ms) with performance.now()'s sub-millisecond resolution.
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
