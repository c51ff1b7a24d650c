import { describe, expect, it } from 'vitest';
import {
  CountQueuingStrategy, isReadableStream, isReadableStreamDisturbed, isReadableStreamLocked, ReadableStream, TransformStream, WritableStream,
} from './streams.ts';

function numbers(count: number): ReadableStream<number> {
  let next = 0;
  return new ReadableStream<number>({
    pull(controller) {
      if (next === count) controller.close();
      else controller.enqueue(next++);
    },
  });
}

describe('streams', () => {
  it('pipes through a TransformStream to a WritableStream', async () => {
    const written: number[] = [];
    const doubled = numbers(4).pipeThrough(new TransformStream<number, number>({ transform: (n, c) => c.enqueue(n * 2) }));
    await doubled.pipeTo(new WritableStream({ write: (n) => void written.push(n) }, new CountQueuingStrategy({ highWaterMark: 2 })));
    expect(written).toEqual([0, 2, 4, 6]);
  });

  it('tees, each branch reading every chunk', async () => {
    const [a, b] = numbers(3).tee();
    const read = async (s: ReadableStream<number>): Promise<number[]> => {
      const out: number[] = [];
      for await (const n of s) out.push(n);
      return out;
    };
    expect(await Promise.all([read(a), read(b)])).toEqual([[0, 1, 2], [0, 1, 2]]);
  });

  it('tells Fetch whether a stream is one, locked, or disturbed', async () => {
    const stream = numbers(1);
    expect([isReadableStream(stream), isReadableStream({}), isReadableStream(new globalThis.ReadableStream())]).toEqual([true, false, false]);
    expect([isReadableStreamLocked(stream), isReadableStreamDisturbed(stream)]).toEqual([false, false]);
    const reader = stream.getReader();
    expect([isReadableStreamLocked(stream), isReadableStreamDisturbed(stream)]).toEqual([true, false]);
    await reader.read();
    expect(isReadableStreamDisturbed(stream)).toBe(true);
  });
});
