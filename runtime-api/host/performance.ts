// performance.now() as workerd has it: coarse on purpose. It moves in whole milliseconds (Date.now()),
// so tenant code gets no high-resolution timer for Spectre-style timing attacks.
//
// The origin is the tenant's load, not the isolate's boot: an isolate booted ahead of need (a
// template) would otherwise show its tenant when another tenant last cold-started.
let timeOrigin: number | undefined;

/**
 * At the isolate's boot: no origin yet, whatever the V8 snapshot may have captured (a reading
 * while it was made would otherwise be every isolate's origin).
 */
export function resetPerformanceClock(): void {
  timeOrigin = undefined;
}

// No call into the isolate marks the start of a tenant's load, so its first reading does.
function origin(): number {
  return (timeOrigin ??= Date.now());
}

/** Starts the clock, unless the tenant's top level already read it (and so started it). */
export function startPerformanceClock(): void {
  origin();
}

class Performance {
  get timeOrigin(): number {
    return origin();
  }

  now(): number {
    return Date.now() - origin();
  }

  toJSON(): { timeOrigin: number } {
    return { timeOrigin: origin() };
  }

  get [Symbol.toStringTag]() {
    return 'Performance';
  }
}

export const performance = new Performance();
export { Performance };
