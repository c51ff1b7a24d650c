import { describe, expect, it } from 'vitest';
import type { ClientSocket } from '../wire.ts';
import { SocketLink } from './socket-link.ts';

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
    const link = new SocketLink({ message: () => {}, closed: () => {} });
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
    const link = new SocketLink({ message: (_data, taken) => pending.push(taken), closed: () => {} });
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
    const tiny = new SocketLink({ message: () => {}, closed: () => {} });
    const t = client();
    tiny.open(t.socket);
    for (let i = 0; i < 40_000; i++) tiny.message('x');
    expect(t.log).toEqual(['pause']);
  });

  it('tells the close once, and closes the client when the sandbox goes', () => {
    const closes: string[] = [];
    const link = new SocketLink({ message: () => {}, closed: (code, reason) => closes.push(`${code} ${reason}`) });
    const c = client();
    link.open(c.socket);
    link.closed(1000, 'bye');
    link.closed(1006, 'again');
    expect(closes).toEqual(['1000 bye']);
    const other = new SocketLink({ message: () => {}, closed: () => closes.push('told') });
    const d = client();
    other.open(d.socket);
    other.end(1011, 'the function hit a limit');
    other.closed(1006, '');
    expect(d.log).toEqual(['close 1011 the function hit a limit']);
    expect(closes).toEqual(['1000 bye']);
  });

  it('closes a socket whose client does not read what the tenant sends (1008), rather than holding it all', () => {
    const link = new SocketLink({ message: () => {}, closed: () => {} });
    const c = client(17 * 1024 * 1024);
    link.open(c.socket);
    link.send('more');
    link.send('and more');
    expect(c.log).toEqual(['close 1008 the client is not reading what the function sends']);
  });
});
