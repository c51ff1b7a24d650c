import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AbortController } from './abort.ts';
import { DOMException } from './dom-exception.ts';
import { CustomEvent, Event, EventTarget, type EventListenerOrEventListenerObject, setEventClock, setReportError } from './event.ts';

let reported: unknown[];
beforeEach(() => {
  reported = [];
  setReportError((error) => reported.push(error));
});
afterEach(() => setEventClock(null));

describe('Event', () => {
  it('has the defaults and reads EventInit in lexicographic order', () => {
    const e = new Event('x');
    expect([e.type, e.bubbles, e.cancelable, e.composed, e.defaultPrevented, e.isTrusted, e.eventPhase]).toEqual([
      'x', false, false, false, false, false, Event.NONE,
    ]);
    expect([e.target, e.currentTarget, e.srcElement, e.timeStamp, e.returnValue, e.cancelBubble]).toEqual([null, null, null, 0, true, false]);
    expect(e.composedPath()).toEqual([]);
    const read: string[] = [];
    const init = new Proxy({ bubbles: 1, cancelable: 'yes', composed: 0 }, {
      get: (t, key: string) => (read.push(key), t[key as keyof typeof t]),
    });
    const f = new Event(5 as never, init as never);
    expect(read).toEqual(['bubbles', 'cancelable', 'composed']);
    expect([f.type, f.bubbles, f.cancelable, f.composed]).toEqual(['5', true, true, false]);
    expect(new Event('x', null as never).bubbles).toBe(false);
  });

  it('converts its arguments as WebIDL does', () => {
    expect(() => new (Event as unknown as new () => Event)()).toThrow(TypeError);
    expect(() => new Event(Symbol() as never)).toThrow(TypeError);
    expect(() => new Event('x', 1 as never)).toThrow(TypeError);
    expect(() => (Event as unknown as (t: string) => Event)('x')).toThrow(TypeError);
  });

  it('has the WebIDL shape: unforgeable isTrusted, constants on both objects', () => {
    const e = new Event('x');
    const own = Object.getOwnPropertyDescriptor(e, 'isTrusted')!;
    expect([own.enumerable, own.configurable, own.set, typeof own.get]).toEqual([true, false, undefined, 'function']);
    expect(own.get).toBe(Object.getOwnPropertyDescriptor(new Event('y'), 'isTrusted')!.get);
    expect(() => own.get!.call({})).toThrow(TypeError);
    expect('isTrusted' in Event.prototype).toBe(false);
    for (const [key, value] of [['NONE', 0], ['CAPTURING_PHASE', 1], ['AT_TARGET', 2], ['BUBBLING_PHASE', 3]] as const) {
      const descriptor = { value, writable: false, enumerable: true, configurable: false };
      expect(Object.getOwnPropertyDescriptor(Event, key)).toEqual(descriptor);
      expect(Object.getOwnPropertyDescriptor(Event.prototype, key)).toEqual(descriptor);
    }
    expect(Object.prototype.toString.call(e)).toBe('[object Event]');
    // Node's Event has isTrusted on the prototype and no constants there.
    const node = Object.keys(globalThis.Event.prototype).filter((k) => k !== 'isTrusted');
    expect(Object.keys(Event.prototype).sort()).toEqual([...node, 'NONE', 'CAPTURING_PHASE', 'AT_TARGET', 'BUBBLING_PHASE'].sort());
    expect(Event.length).toBe(globalThis.Event.length);
    const get = Object.getOwnPropertyDescriptor(Event.prototype, 'type')!.get!;
    expect(() => get.call({})).toThrow(TypeError);
  });

  it('cancels only a cancelable event', () => {
    const plain = new Event('x');
    plain.preventDefault();
    plain.returnValue = false;
    expect([plain.defaultPrevented, plain.returnValue]).toEqual([false, true]);
    const cancelable = new Event('x', { cancelable: true });
    cancelable.returnValue = true;
    expect(cancelable.defaultPrevented).toBe(false);
    cancelable.returnValue = false;
    expect([cancelable.defaultPrevented, cancelable.returnValue]).toEqual([true, false]);
  });

  it('sets cancelBubble only to true', () => {
    const e = new Event('x');
    e.cancelBubble = true;
    e.cancelBubble = false;
    expect(e.cancelBubble).toBe(true);
    const f = new Event('x');
    f.stopImmediatePropagation();
    expect(f.cancelBubble).toBe(true);
  });

  it('initEvent re-initializes, except while dispatching', () => {
    const e = new Event('a', { cancelable: true, composed: true });
    e.preventDefault();
    e.stopPropagation();
    e.initEvent('b', true);
    expect([e.type, e.bubbles, e.cancelable, e.composed, e.defaultPrevented, e.cancelBubble]).toEqual(['b', true, false, true, false, false]);
    const target = new EventTarget();
    target.addEventListener('b', () => e.initEvent('c'));
    target.dispatchEvent(e);
    expect(e.type).toBe('b');
    expect(e.target).toBe(target);
    e.initEvent('d');
    expect(e.target).toBe(null);
    expect(() => (e.initEvent as () => void)()).toThrow(TypeError);
  });

  it('takes timeStamp from the clock hook', () => {
    let now = 41;
    setEventClock(() => ++now);
    expect([new Event('x').timeStamp, new Event('x').timeStamp]).toEqual([42, 43]);
  });
});

describe('CustomEvent', () => {
  it('carries detail, null by default', () => {
    const e = new CustomEvent('x', { detail: { n: 1 }, bubbles: true });
    expect([e.detail, e.bubbles, e.type]).toEqual([{ n: 1 }, true, 'x']);
    expect(new CustomEvent('x').detail).toBe(null);
    expect(new CustomEvent('x', { detail: undefined }).detail).toBe(null);
    expect(e).toBeInstanceOf(Event);
    expect(Object.prototype.toString.call(e)).toBe('[object CustomEvent]');
    expect(Object.keys(CustomEvent.prototype)).toEqual(Object.keys(globalThis.CustomEvent.prototype));
    expect(() => new (CustomEvent as unknown as new () => Event)()).toThrow("Failed to construct 'CustomEvent'");
    const read: string[] = [];
    const init = new Proxy({}, { get: (_, key: string) => void read.push(key) });
    new CustomEvent('x', init);
    expect(read).toEqual(['bubbles', 'cancelable', 'composed', 'detail']);
  });
});

describe('EventTarget', () => {
  it('calls listeners in order, with this, target, currentTarget, eventPhase and composedPath', () => {
    const target = new EventTarget();
    const seen: unknown[] = [];
    const e = new Event('x');
    target.addEventListener('x', function (this: unknown, event) {
      seen.push(this === target, event === e, event.target === target, event.currentTarget === target, event.eventPhase);
      seen.push(event.composedPath().length === 1 && event.composedPath()[0] === target, event.isTrusted);
    });
    target.addEventListener('x', () => seen.push('second'));
    target.addEventListener('y', () => seen.push('other type'));
    expect(target.dispatchEvent(e)).toBe(true);
    expect(seen).toEqual([true, true, true, true, Event.AT_TARGET, true, false, 'second']);
    expect([e.target, e.currentTarget, e.eventPhase, e.composedPath()]).toEqual([target, null, Event.NONE, []]);
  });

  it('runs capture listeners first, both at AT_TARGET', () => {
    const target = new EventTarget();
    const seen: string[] = [];
    target.addEventListener('x', (e) => seen.push(`bubble, phase ${e.eventPhase}`));
    target.addEventListener('x', (e) => seen.push(`capture, phase ${e.eventPhase}`), true);
    target.addEventListener('x', () => seen.push('capture again'), { capture: true });
    target.dispatchEvent(new Event('x'));
    expect(seen).toEqual(['capture, phase 2', 'capture again', 'bubble, phase 2']);
  });

  it('adds a listener once per type, callback and capture', () => {
    const target = new EventTarget();
    let calls = 0;
    const listener = (): void => void calls++;
    target.addEventListener('x', listener);
    target.addEventListener('x', listener, { once: true, passive: true });
    target.addEventListener('x', listener, false);
    target.addEventListener('x', listener, true);
    target.dispatchEvent(new Event('x'));
    expect(calls).toBe(2);
    target.removeEventListener('x', listener, { capture: true });
    target.dispatchEvent(new Event('x'));
    expect(calls).toBe(3);
    target.removeEventListener('x', listener, true);
    target.removeEventListener('x', listener);
    target.dispatchEvent(new Event('x'));
    expect(calls).toBe(3);
  });

  it('takes the boolean form of options as capture, and converts as WebIDL does', () => {
    const target = new EventTarget();
    const seen: string[] = [];
    target.addEventListener('x', () => seen.push('1'), 'yes' as never);
    target.removeEventListener('x', () => {}, 1 as never);
    target.addEventListener('x', () => seen.push('2'), null as never);
    target.dispatchEvent(new Event('x'));
    expect(seen).toEqual(['1', '2']);
    const read: string[] = [];
    target.addEventListener('y', () => {}, new Proxy({}, { get: (_, key: string) => void read.push(key) }));
    expect(read).toEqual(['capture', 'once', 'passive', 'signal']);
    expect(() => target.addEventListener('x', 'nope' as never)).toThrow(TypeError);
    expect(() => target.addEventListener('x', () => {}, { signal: null as never })).toThrow(TypeError);
    expect(() => target.addEventListener('x', () => {}, { signal: {} as never })).toThrow(TypeError);
    expect(() => (target.addEventListener as (t: string) => void)('x')).toThrow(TypeError);
    expect(() => target.dispatchEvent({ type: 'x' } as never)).toThrow("parameter 1 is not of type 'Event'");
    target.addEventListener('x', null);
    target.removeEventListener('x', null);
  });

  it('removes a once listener before calling it', () => {
    const target = new EventTarget();
    const seen: number[] = [];
    target.addEventListener('x', (e) => {
      seen.push(1);
      if (seen.length === 1) target.dispatchEvent(new Event(e.type));
    }, { once: true });
    target.dispatchEvent(new Event('x'));
    target.dispatchEvent(new Event('x'));
    expect(seen).toEqual([1]);
  });

  it('ignores preventDefault from a passive listener', () => {
    const target = new EventTarget();
    target.addEventListener('x', (e) => e.preventDefault(), { passive: true });
    const e = new Event('x', { cancelable: true });
    expect(target.dispatchEvent(e)).toBe(true);
    target.addEventListener('x', (e) => e.preventDefault());
    expect(target.dispatchEvent(e)).toBe(false);
    expect(e.defaultPrevented).toBe(true);
  });

  it('removes a listener when its signal aborts, and skips an aborted signal', () => {
    const target = new EventTarget();
    const controller = new AbortController();
    let calls = 0;
    const listener = (): void => void calls++;
    target.addEventListener('x', listener, { signal: controller.signal });
    target.dispatchEvent(new Event('x'));
    controller.abort();
    target.dispatchEvent(new Event('x'));
    target.addEventListener('x', listener, { signal: controller.signal });
    target.dispatchEvent(new Event('x'));
    expect(calls).toBe(1);
    // Removed otherwise, the listener no longer depends on the signal.
    const other = new AbortController();
    target.addEventListener('x', listener, { signal: other.signal });
    target.removeEventListener('x', listener);
    target.addEventListener('x', listener);
    other.abort();
    target.dispatchEvent(new Event('x'));
    expect(calls).toBe(2);
  });

  it('calls handleEvent on objects, looked up at each dispatch', () => {
    const target = new EventTarget();
    const seen: unknown[] = [];
    const object: { handleEvent: unknown } = {
      handleEvent(this: unknown, e: Event) {
        seen.push(this === object, e.type);
      },
    };
    target.addEventListener('x', object as EventListenerOrEventListenerObject);
    target.dispatchEvent(new Event('x'));
    object.handleEvent = () => seen.push('replaced');
    target.dispatchEvent(new Event('x'));
    object.handleEvent = 5;
    target.addEventListener('x', () => seen.push('after'));
    target.dispatchEvent(new Event('x'));
    expect(seen).toEqual([true, 'x', 'replaced', 'after']);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBeInstanceOf(TypeError);
  });

  it('reports a listener\'s exception and goes on with the others', () => {
    const target = new EventTarget();
    const boom = new Error('boom');
    const seen: string[] = [];
    target.addEventListener('x', () => {
      throw boom;
    });
    target.addEventListener('x', () => seen.push('still called'));
    expect(target.dispatchEvent(new Event('x'))).toBe(true);
    expect(reported).toEqual([boom]);
    expect(seen).toEqual(['still called']);
  });

  it('stops at stopImmediatePropagation, and stopPropagation in a capture listener skips the rest', () => {
    const target = new EventTarget();
    const seen: string[] = [];
    target.addEventListener('x', (e) => (seen.push('a'), e.stopImmediatePropagation()));
    target.addEventListener('x', () => seen.push('b'));
    target.dispatchEvent(new Event('x'));
    expect(seen).toEqual(['a']);
    const other = new EventTarget();
    other.addEventListener('y', () => seen.push('bubble'));
    other.addEventListener('y', (e) => (seen.push('capture'), e.stopPropagation()), true);
    other.addEventListener('y', () => seen.push('capture 2'), true);
    const e = new Event('y');
    other.dispatchEvent(e);
    expect(seen).toEqual(['a', 'capture', 'capture 2']);
    // The flags are cleared after dispatch, so it can go again.
    expect(e.cancelBubble).toBe(false);
    e.stopPropagation();
    other.dispatchEvent(e);
    expect(seen).toHaveLength(3);
  });

  it('throws InvalidStateError for an event being dispatched', () => {
    const target = new EventTarget();
    let error: unknown;
    const e = new Event('x');
    target.addEventListener('x', () => {
      try {
        new EventTarget().dispatchEvent(e);
      } catch (err) {
        error = err;
      }
    });
    target.dispatchEvent(e);
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('InvalidStateError');
    expect(target.dispatchEvent(e)).toBe(true);
  });

  it('runs the listeners present when the pass started, minus those removed since', () => {
    const target = new EventTarget();
    const seen: string[] = [];
    const b = (): void => void seen.push('b');
    const c = (): void => void seen.push('c');
    target.addEventListener('x', () => {
      seen.push('a');
      if (seen.length > 1) return;
      target.removeEventListener('x', b);
      target.addEventListener('x', c);
      target.addEventListener('x', b);
    });
    target.addEventListener('x', b);
    target.dispatchEvent(new Event('x'));
    expect(seen).toEqual(['a']);
    target.dispatchEvent(new Event('x'));
    // b was removed and added again, so it now comes after c.
    expect(seen).toEqual(['a', 'a', 'c', 'b']);
  });

  it('runs a nested dispatch with the listeners present then', () => {
    const target = new EventTarget();
    const seen: string[] = [];
    const late = (): void => void seen.push('late');
    target.addEventListener('x', (e) => {
      seen.push(`outer ${(e as CustomEvent).detail}`);
      if ((e as CustomEvent).detail === 1) {
        target.addEventListener('x', late);
        target.dispatchEvent(new CustomEvent('x', { detail: 2 }));
        target.removeEventListener('x', late);
      }
    });
    target.dispatchEvent(new CustomEvent('x', { detail: 1 }));
    expect(seen).toEqual(['outer 1', 'outer 2', 'late']);
    target.dispatchEvent(new CustomEvent('x', { detail: 3 }));
    expect(seen).toEqual(['outer 1', 'outer 2', 'late', 'outer 3']);
  });

  it('returns false when a listener canceled the event', () => {
    const target = new EventTarget();
    target.addEventListener('x', (e) => e.preventDefault());
    expect(target.dispatchEvent(new Event('x', { cancelable: true }))).toBe(false);
    expect(target.dispatchEvent(new Event('x'))).toBe(true);
  });

  it('can be subclassed, and has the WebIDL shape', () => {
    class Emitter extends EventTarget {
      count = 0;
    }
    const emitter = new Emitter();
    emitter.addEventListener('x', () => emitter.count++);
    emitter.dispatchEvent(new Event('x'));
    expect(emitter.count).toBe(1);
    expect(Object.keys(EventTarget.prototype)).toEqual(Object.keys(globalThis.EventTarget.prototype));
    expect(EventTarget.prototype.addEventListener.length).toBe(2);
    expect(Object.prototype.toString.call(emitter)).toBe('[object EventTarget]');
    expect(() => EventTarget.prototype.addEventListener.call({}, 'x', () => {})).toThrow(TypeError);
  });

  it('behaves like Node\'s where Node follows the spec', () => {
    const script = (E: typeof Event, T: typeof EventTarget): unknown[] => {
      const target = new T();
      const seen: unknown[] = [];
      const a = (e: Event): void => void seen.push('a', e.eventPhase, e.defaultPrevented);
      const b = { handleEvent: (e: Event): void => (seen.push('b'), e.preventDefault()) };
      target.addEventListener('x', a);
      target.addEventListener('x', b, { once: true });
      target.addEventListener('x', a);
      target.addEventListener('x', (e) => seen.push('c', e.defaultPrevented, e.cancelBubble));
      seen.push(target.dispatchEvent(new E('x', { cancelable: true })));
      seen.push(target.dispatchEvent(new E('x', { cancelable: true })));
      return seen;
    };
    expect(script(Event, EventTarget)).toEqual(script(globalThis.Event as unknown as typeof Event, globalThis.EventTarget as unknown as typeof EventTarget));
  });
});
