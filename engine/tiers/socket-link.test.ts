import { describe, expect, it } from 'vitest';
import type { ClientSocket } from '../wire.ts';
import { Fifo, SocketInflow, SocketLink } from './socket-link.ts';

function client(buffered = 0) {
  const log: string[] = [];
  const socket: ClientSocket = {
    buffered,
    send: (data) => log.push(`send ${typeof data === 'string' ? data : `${data.byteLength} bytes`}`),
    close: (code, reason) => log.push(`close ${code} ${reason}`),
    pause: () => log.push('pause'),
    resume: () => log.push('resume'),
  };
  return { socket, log };
}

describe('SocketLink', () => {
  it('holds what the tenant sends before the handshake, then sends it in order, its close last', () => {
    const link = new SocketLink(new SocketInflow(), { message: () => {}, closed: () => {} });
    link.send('a');
    link.send(new ArrayBuffer(3));
    link.close(4000, 'done');
    link.send('ignored after close');
    const c = client();
    link.open(c.socket);
    expect(c.log).toEqual(['send a', 'send 3 bytes', 'close 4000 done']);
  });

  it('stops reading a client whose messages the tenant has not taken, and reads on at half', () => {
    const pending: (() => void)[] = [];
    const link = new SocketLink(new SocketInflow(), { message: (_data, taken) => pending.push(taken), closed: () => {} });
    const c = client();
    link.open(c.socket);
    const mb = new ArrayBuffer(1024 * 1024);
    for (let i = 0; i < 9; i++) link.message(mb);
    expect(c.log).toEqual(['pause']);
    // Each message also counts what its place in the queue costs (256 bytes).
    for (let i = 0; i < 5; i++) pending.shift()!();
    expect(c.log).toEqual(['pause']);
    pending.shift()!();
    expect(c.log).toEqual(['pause', 'resume']);
    expect(link.inboundBytes).toBe(3 * (1024 * 1024 + 256));
    // Tiny messages count too: a flood of one-byte messages pauses the client as well.
    const tiny = new SocketLink(new SocketInflow(), { message: () => {}, closed: () => {} });
    const t = client();
    tiny.open(t.socket);
    for (let i = 0; i < 40_000; i++) tiny.message('x');
    expect(t.log).toEqual(['pause']);
  });

  it('tells the close once, and closes the client when the sandbox goes', () => {
    const closes: string[] = [];
    const link = new SocketLink(new SocketInflow(), { message: () => {}, closed: (code, reason) => closes.push(`${code} ${reason}`) });
    const c = client();
    link.open(c.socket);
    link.closed(1000, 'bye');
    link.closed(1006, 'again');
    expect(closes).toEqual(['1000 bye']);
    const other = new SocketLink(new SocketInflow(), { message: () => {}, closed: () => closes.push('told') });
    const d = client();
    other.open(d.socket);
    other.end(1011, 'the function hit a limit');
    other.closed(1006, '');
    expect(d.log).toEqual(['close 1011 the function hit a limit']);
    // Ended before the handshake: the client, once there, gets that code.
    const early = new SocketLink(new SocketInflow(), { message: () => {}, closed: () => {} });
    early.end(1011, 'the function hit a limit');
    const e = client();
    early.open(e.socket);
    expect(e.log).toEqual(['close 1011 the function hit a limit']);
    expect(closes).toEqual(['1000 bye']);
  });

  it('closes a socket whose client does not read what the tenant sends (1008), rather than holding it all', () => {
    const link = new SocketLink(new SocketInflow(), { message: () => {}, closed: () => {} });
    const c = client(17 * 1024 * 1024);
    link.open(c.socket);
    link.send('more');
    link.send('and more');
    expect(c.log).toEqual(['close 1008 the client is not reading what the function sends']);
  });

  it('holds every client of a sandbox whose sockets together are over their bound, and reads them all on at half', () => {
    const inflow = new SocketInflow();
    const pending: (() => void)[] = [];
    const links = Array.from({ length: 8 }, () => new SocketLink(inflow, { message: (_data, taken) => pending.push(taken), closed: () => {} }));
    const clients = links.map((link) => {
      const c = client();
      link.open(c.socket);
      return c;
    });
    const mb = new ArrayBuffer(1024 * 1024);
    // 5 MB each is under a socket's own 8 MB, but 40 MB together is over the sandbox's 32.
    for (let round = 0; round < 5; round++) for (const link of links) link.message(mb);
    expect(clients.filter((c) => c.log.includes('pause')).length).toBeGreaterThan(0);
    const held = clients.filter((c) => c.log.at(-1) === 'pause').length;
    while (inflow.bytes > 16 * 1024 * 1024) pending.shift()!();
    expect(clients.filter((c) => c.log.at(-1) === 'resume').length).toBe(held);
  });
});

describe('Fifo', () => {
  it('takes in order, in constant time however long it gets', () => {
    const q = new Fifo<number>();
    for (let i = 0; i < 200_000; i++) q.push(i);
    const t0 = performance.now();
    let sum = 0;
    for (let i = 0; i < 200_000; i++) sum += q.shift()!;
    expect(performance.now() - t0).toBeLessThan(500);
    expect(sum).toBe((199_999 * 200_000) / 2);
    expect([q.size, q.shift()]).toEqual([0, undefined]);
  });
});
