// performance.now() as workerd has it: coarse on purpose. It moves in whole milliseconds (Date.now()),
// so tenant code gets no high-resolution timer for Spectre-style timing attacks.
let timeOrigin = 0;

/** Set when the isolate starts serving (not when the snapshot was made). */
export function startPerformanceClock(): void {
  timeOrigin = Date.now();
}

class Performance {
  get timeOrigin(): number {
    return timeOrigin;
  }

  now(): number {
    return Date.now() - timeOrigin;
  }

  toJSON(): { timeOrigin: number } {
    return { timeOrigin };
  }

  get [Symbol.toStringTag]() {
    return 'Performance';
  }
}

export const performance = new Performance();
export { Performance };
