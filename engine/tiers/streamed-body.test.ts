// The host's end of a streamed response body: it holds what it asked the sandbox for and no more,
// and a body that breaks its declared length fails before a byte too many is passed on.
import { describe, expect, it } from 'vitest';
import { StreamedBody } from './streamed-body.ts';

function body(declared?: number) {
  let pulls = 0;
  let cancels = 0;
  const streamed = new StreamedBody(declared, { pull: () => void pulls++, cancel: () => void cancels++, closed: () => {} });
  return { streamed, reader: streamed.stream.getReader(), pulls: () => pulls, cancels: () => cancels };
}

const bytes = (n: number) => new Uint8Array(n).fill(1).buffer;
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('StreamedBody', () => {
  it('takes one chunk per pull, and fails on a chunk nobody asked for instead of holding it', async () => {
    const { streamed, reader, pulls, cancels } = body();
    await settle();
    expect(pulls()).toBe(1);
    expect(streamed.receive(bytes(10), null)).toBe(true);
    expect((await reader.read()).value?.byteLength).toBe(10);
    await settle();
    // The read made room: one more pull went out. Answer it, and at once send another, unasked.
    expect(pulls()).toBe(2);
    expect(streamed.receive(bytes(10), null)).toBe(true);
    expect(streamed.receive(bytes(1 << 20), null)).toBe(false);
    expect(streamed.open).toBe(false);
    expect(cancels()).toBe(1);
    await expect(reader.read().then(() => reader.read())).rejects.toThrow(/nobody asked for/);
  });

  it('asks again after empty chunks, however many come in a row', async () => {
    const { streamed, reader, pulls } = body();
    await settle();
    const read = reader.read();
    for (let i = 0; i < 5; i++) {
      expect(streamed.receive(new ArrayBuffer(0), null)).toBe(true);
      expect(pulls()).toBe(2 + i);
    }
    streamed.receive(bytes(4), null);
    expect((await read).value?.byteLength).toBe(4);
  });

  it('takes the bytes that came with the head without a pull', async () => {
    const { streamed, reader } = body();
    streamed.receiveFirst(bytes(3));
    expect((await reader.read()).value?.byteLength).toBe(3);
    await settle();
    expect(streamed.receive(null, null)).toBe(true);
    expect((await reader.read()).done).toBe(true);
  });

  it('holds a declared length: past it, or short of it at the end, the body fails', async () => {
    const over = body(5);
    await settle();
    over.streamed.receive(bytes(6), null);
    await expect(over.reader.read()).rejects.toThrow(/declared as 5 bytes and went past that, to 6/);
    const short = body(5);
    await settle();
    short.streamed.receive(bytes(4), null);
    expect((await short.reader.read()).value?.byteLength).toBe(4);
    await settle();
    short.streamed.receive(null, null);
    await expect(short.reader.read()).rejects.toThrow(/declared as 5 bytes and ended after 4/);
  });
});
