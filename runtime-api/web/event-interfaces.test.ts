import { describe, expect, it } from 'vitest';
import { Event } from './event.ts';
import { defineEventInterfaces } from './event-interfaces.ts';

const { CloseEvent, ErrorEvent, MessageEvent, PromiseRejectionEvent } = defineEventInterfaces();

describe('ErrorEvent, PromiseRejectionEvent, MessageEvent, CloseEvent', () => {
  it('are Events with their init dictionaries and defaults', () => {
    const cause = new Error('boom');
    const error = new ErrorEvent('error', { message: 'm', filename: 'f.js', lineno: 3, colno: -1, error: cause, cancelable: true });
    expect([error instanceof Event, error.type, error.cancelable, error.message, error.filename, error.lineno, error.colno, error.error])
      .toEqual([true, 'error', true, 'm', 'f.js', 3, 2 ** 32 - 1, cause]);
    expect([new ErrorEvent('e').message, new ErrorEvent('e').lineno, new ErrorEvent('e').error]).toEqual(['', 0, undefined]);

    const promise = Promise.resolve();
    const rejection = new PromiseRejectionEvent('unhandledrejection', { promise, reason: 'r' });
    expect([rejection.promise, rejection.reason]).toEqual([promise, 'r']);
    expect(() => new (PromiseRejectionEvent as unknown as new (t: string) => Event)('x')).toThrow(TypeError);
    expect(() => new PromiseRejectionEvent('x', {} as never)).toThrow(TypeError);

    const message = new MessageEvent('message', { data: { a: 1 }, origin: 'https://a.test', lastEventId: '7', ports: [] });
    expect([message.data, message.origin, message.lastEventId, message.source, message.ports]).toEqual([{ a: 1 }, 'https://a.test', '7', null, []]);
    expect([new MessageEvent('m').data, Object.isFrozen(new MessageEvent('m').ports)]).toEqual([null, true]);
    expect(() => new MessageEvent('m', { ports: [{}] })).toThrow(TypeError);

    const close = new CloseEvent('close', { wasClean: 1 as never, code: 65536 + 1000, reason: 'bye' });
    expect([close.wasClean, close.code, close.reason]).toEqual([true, 1000, 'bye']);
    expect([new CloseEvent('c').wasClean, new CloseEvent('c').code, new CloseEvent('c').reason]).toEqual([false, 0, '']);
  });

  it('have the WebIDL shape', () => {
    for (const [cls, name] of [[ErrorEvent, 'ErrorEvent'], [PromiseRejectionEvent, 'PromiseRejectionEvent'], [MessageEvent, 'MessageEvent'], [CloseEvent, 'CloseEvent']] as const) {
      expect(Object.prototype.toString.call(cls.prototype)).toBe(`[object ${name}]`);
      expect(Object.getPrototypeOf(cls.prototype)).toBe(Event.prototype);
      expect(() => (cls as unknown as () => void)()).toThrow(TypeError);
    }
    expect([ErrorEvent.length, PromiseRejectionEvent.length, MessageEvent.length, CloseEvent.length]).toEqual([1, 2, 1, 1]);
  });
});
