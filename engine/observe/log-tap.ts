// Live log lines per function, for GET /_islet/functions/:name/logs and `islet tail`. The engine
// publishes a function's request lines and tenant console output here as well as to its logger;
// with nobody following a function, publishing costs one map lookup.

/** One line as followers get it (the same fields the JSON log has). */
export interface TapRecord {
  time: number;
  level: string;
  fn: string;
  msg: string;
  [field: string]: unknown;
}

export type Follower = (record: TapRecord) => void;

export class LogTap {
  readonly #followers = new Map<string, Set<Follower>>();
  readonly #closers = new Set<() => void>();

  /** Whether anyone follows `fn` (check before building a record). */
  following(fn: string): boolean {
    return this.#followers.size > 0 && this.#followers.has(fn);
  }

  publish(record: TapRecord): void {
    const followers = this.#followers.get(record.fn);
    if (followers) for (const follow of followers) follow(record);
  }

  /**
   * Ends every follower's stream (before a server shuts down: a live stream would hold its
   * connection open until the drain deadline).
   */
  close(): void {
    for (const close of [...this.#closers]) close();
  }

  /** Called on close(), until the returned function is called. */
  onClose(close: () => void): () => void {
    this.#closers.add(close);
    return () => this.#closers.delete(close);
  }

  /** Follows `fn`'s lines until the returned function is called. */
  follow(fn: string, follower: Follower): () => void {
    let set = this.#followers.get(fn);
    if (!set) this.#followers.set(fn, (set = new Set()));
    set.add(follower);
    return () => {
      set.delete(follower);
      if (set.size === 0 && this.#followers.get(fn) === set) this.#followers.delete(fn);
    };
  }
}

/** Most lines a stream holds for a slow reader before it drops (and says how many it dropped). */
const STREAM_BUFFER_LINES = 1_000;

/**
 * `fn`'s lines as NDJSON for an HTTP response, until the client goes away or the tap closes.
 * A reader that falls behind loses lines, never the engine's memory.
 */
export function ndjsonStream(tap: LogTap, fn: string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let unfollow: (() => void) | undefined;
  let unclose: (() => void) | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      let dropped = 0;
      const send = (record: object) => controller.enqueue(encoder.encode(`${JSON.stringify(record)}\n`));
      send({ time: Date.now(), level: 'info', fn, msg: 'following logs' });
      unfollow = tap.follow(fn, (record) => {
        if ((controller.desiredSize ?? 0) <= 0) {
          dropped++;
          return;
        }
        if (dropped > 0) {
          send({ time: Date.now(), level: 'warn', fn, msg: `${dropped} line(s) dropped: the reader fell behind` });
          dropped = 0;
        }
        send(record);
      });
      unclose = tap.onClose(() => {
        unfollow?.();
        unclose?.();
        controller.close();
      });
    },
    cancel() {
      unfollow?.();
      unclose?.();
    },
  }, new CountQueuingStrategy({ highWaterMark: STREAM_BUFFER_LINES }));
}
