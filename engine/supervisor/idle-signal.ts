// "Tell me when nothing is in flight any more, or after a while": for draining engines and the
// connections handed to them.
export class IdleSignal {
  #waiters: (() => void)[] = [];

  /** Resolves at once if `idle`, else at the next notify() (or after timeoutMs). */
  wait(idle: boolean, timeoutMs: number): Promise<void> {
    if (idle) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  notify(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}
