import v8 from 'node:v8';
import vm from 'node:vm';
import { beforeEach, describe, expect, it } from 'vitest';
import { AbortController, AbortSignal, addAbortAlgorithm } from './abort.ts';
import { DOMException } from './dom-exception.ts';
import { Event, EventTarget, setReportError } from './event.ts';

let reported: unknown[];
beforeEach(() => {
  reported = [];
  setReportError((error) => reported.push(error));
});

function expectDOMException(value: unknown, name: string, message: string): void {
  expect(value).toBeInstanceOf(DOMException);
  expect([(value as DOMException).name, (value as DOMException).message]).toEqual([name, message]);
}

/** Runs fn with a fake globalThis.setTimeout, returning the callbacks and delays it got. */
function withFakeTimers(fn: () => void): [() => void, number][] {
  const timers: [() => void, number][] = [];
  const real = globalThis.setTimeout;
  globalThis.setTimeout = ((callback: () => void, ms: number) => timers.push([callback, ms])) as never;
  try {
    fn();
  } finally {
    globalThis.setTimeout = real;
  }
  return timers;
}

describe('AbortController and AbortSignal', () => {
  it('aborts once, with an AbortError by default', () => {
    const controller = new AbortController();
    const { signal } = controller;
    expect(controller.signal).toBe(signal);
    expect([signal.aborted, signal.reason]).toEqual([false, undefined]);
    expect(signal).toBeInstanceOf(EventTarget);
    const events: Event[] = [];
    signal.addEventListener('abort', (e) => events.push(e));
    controller.abort();
    controller.abort('again');
    expect(signal.aborted).toBe(true);
    expectDOMException(signal.reason, 'AbortError', 'This operation was aborted');
    expect(events).toHaveLength(1);
    const [event] = events;
    expect([event!.type, event!.isTrusted, event!.bubbles, event!.cancelable, event!.target]).toEqual(['abort', true, false, false, signal]);
    const undefinedReason = new AbortController();
    undefinedReason.abort(undefined);
    expectDOMException(undefinedReason.signal.reason, 'AbortError', 'This operation was aborted');
  });

  it('keeps any reason given, and throwIfAborted throws it', () => {
    const controller = new AbortController();
    expect(() => controller.signal.throwIfAborted()).not.toThrow();
    const reason = { why: 'done' };
    controller.abort(reason);
    expect(controller.signal.reason).toBe(reason);
    let thrown: unknown;
    try {
      controller.signal.throwIfAborted();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBe(reason);
    const falsy = new AbortController();
    falsy.abort(null);
    expect([falsy.signal.aborted, falsy.signal.reason]).toEqual([true, null]);
  });

  it('has no constructor for AbortSignal, and the WebIDL shape', () => {
    expect(() => new (AbortSignal as unknown as new () => AbortSignal)()).toThrow('Illegal constructor');
    expect(() => new (class extends (AbortSignal as unknown as new () => object) {})()).toThrow(TypeError);
    expect(Object.getOwnPropertyNames(AbortSignal.prototype).sort()).toEqual(Object.getOwnPropertyNames(globalThis.AbortSignal.prototype).sort());
    expect(Object.keys(AbortSignal.prototype).sort()).toEqual(['aborted', 'onabort', 'reason', 'throwIfAborted']);
    expect(Object.keys(AbortSignal).sort()).toEqual(['abort', 'any', 'timeout']);
    expect(Object.keys(AbortController.prototype)).toEqual(Object.keys(globalThis.AbortController.prototype));
    for (const name of ['abort', 'any', 'timeout'] as const) expect(AbortSignal[name].length).toBe(globalThis.AbortSignal[name].length);
    expect(AbortController.prototype.abort.length).toBe(0);
    expect(Object.prototype.toString.call(new AbortController().signal)).toBe('[object AbortSignal]');
    expect(Object.prototype.toString.call(new AbortController())).toBe('[object AbortController]');
    const aborted = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;
    expect(() => aborted.call(new EventTarget())).toThrow(TypeError);
  });

  it('runs onabort in its place among the listeners, with this the signal', () => {
    const controller = new AbortController();
    const { signal } = controller;
    const seen: unknown[] = [];
    signal.addEventListener('abort', () => seen.push('first'));
    signal.onabort = function (this: unknown, e: Event) {
      seen.push(this === signal, e.type);
    };
    signal.addEventListener('abort', () => seen.push('last'));
    // Replacing the handler keeps its place; setting null and then a handler again moves it to the end.
    const handler = (): void => void seen.push('handler');
    signal.onabort = handler;
    expect(signal.onabort).toBe(handler);
    controller.abort();
    expect(seen).toEqual(['first', 'handler', 'last']);

    const other = new AbortController();
    other.signal.onabort = handler;
    other.signal.onabort = null;
    other.signal.addEventListener('abort', () => seen.push('listener'));
    other.signal.onabort = handler;
    other.abort();
    expect(seen.slice(3)).toEqual(['listener', 'handler']);
  });

  it('treats a non-object onabort as null, and ignores a non-callable object', () => {
    const controller = new AbortController();
    controller.signal.onabort = 'alert(1)' as never;
    expect(controller.signal.onabort).toBe(null);
    const object = { handleEvent: () => reported.push('not called') };
    controller.signal.onabort = object;
    expect(controller.signal.onabort).toBe(object);
    controller.abort();
    expect(reported).toEqual([]);
  });

  it('cancels a cancelable event whose handler returns false', () => {
    const { signal } = new AbortController();
    signal.onabort = () => false;
    expect(signal.dispatchEvent(new Event('abort', { cancelable: true }))).toBe(false);
    expect(signal.dispatchEvent(new Event('abort'))).toBe(true);
    expect(signal.aborted).toBe(false);
  });

  it('reports an exception from onabort or a listener, and runs the others', () => {
    const controller = new AbortController();
    const boom = new Error('boom');
    const seen: string[] = [];
    controller.signal.onabort = () => {
      throw boom;
    };
    controller.signal.addEventListener('abort', () => seen.push('listener'));
    controller.abort();
    expect(reported).toEqual([boom]);
    expect(seen).toEqual(['listener']);
  });
});

describe('addAbortAlgorithm', () => {
  it('runs the algorithms before the abort event, in order, and reports their exceptions', () => {
    const controller = new AbortController();
    const seen: string[] = [];
    controller.signal.addEventListener('abort', () => seen.push('event'));
    addAbortAlgorithm(controller.signal, () => seen.push('first'));
    addAbortAlgorithm(controller.signal, () => {
      throw new Error('algorithm');
    });
    addAbortAlgorithm(controller.signal, () => seen.push('second'));
    controller.abort();
    controller.abort();
    expect(seen).toEqual(['first', 'second', 'event']);
    expect(reported).toHaveLength(1);
  });

  it('returns a remover, and does nothing on an aborted signal', () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const remove = addAbortAlgorithm(controller.signal, () => seen.push('removed'));
    addAbortAlgorithm(controller.signal, () => seen.push('kept'));
    remove();
    remove();
    controller.abort();
    addAbortAlgorithm(controller.signal, () => seen.push('too late'))();
    expect(seen).toEqual(['kept']);
  });
});

describe('AbortSignal.abort', () => {
  it('returns an aborted signal', () => {
    expectDOMException(AbortSignal.abort().reason, 'AbortError', 'This operation was aborted');
    expect(AbortSignal.abort(42).reason).toBe(42);
    expect(AbortSignal.abort().aborted).toBe(true);
    expect(AbortSignal.abort()).not.toBe(AbortSignal.abort());
  });
});

describe('AbortSignal.timeout', () => {
  it('looks up setTimeout when called and aborts with a TimeoutError', () => {
    let signal!: AbortSignal;
    const timers = withFakeTimers(() => {
      signal = AbortSignal.timeout(1.9);
    });
    expect(timers.map(([, ms]) => ms)).toEqual([1]);
    const seen: Event[] = [];
    signal.addEventListener('abort', (e) => seen.push(e));
    expect(signal.aborted).toBe(false);
    timers[0]![0]();
    expectDOMException(signal.reason, 'TimeoutError', 'The operation was aborted due to timeout');
    expect(seen.map((e) => [e.type, e.isTrusted])).toEqual([['abort', true]]);
  });

  it('enforces the range of unsigned long long', () => {
    const timers = withFakeTimers(() => {
      for (const bad of [-1, NaN, Infinity, 2 ** 53, 1n, Symbol()]) expect(() => AbortSignal.timeout(bad as never)).toThrow(TypeError);
      expect(() => (AbortSignal.timeout as unknown as () => void)()).toThrow(TypeError);
      AbortSignal.timeout(-0.5);
      AbortSignal.timeout('7' as never);
      AbortSignal.timeout(2 ** 53 - 1);
    });
    expect(timers.map(([, ms]) => Object.is(ms, -0) ? '-0' : ms)).toEqual([0, 7, 2 ** 53 - 1]);
  });

  it('aborts on a real timer', async () => {
    const signal = AbortSignal.timeout(5);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
  });
});

describe('AbortSignal.any', () => {
  it('is aborted already when an input is, with the first aborted input\'s reason', () => {
    const live = new AbortController().signal;
    const signal = AbortSignal.any([live, AbortSignal.abort('first'), AbortSignal.abort('second')]);
    expect([signal.aborted, signal.reason]).toEqual([true, 'first']);
    expect(AbortSignal.any([]).aborted).toBe(false);
  });

  it('aborts with the reason of the first source to abort, once', () => {
    const a = new AbortController();
    const b = new AbortController();
    const any = AbortSignal.any(new Set([a.signal, b.signal]));
    const seen: unknown[] = [];
    any.addEventListener('abort', () => seen.push('any', any.reason, a.signal.aborted));
    a.signal.addEventListener('abort', () => seen.push('a', any.aborted, any.reason));
    addAbortAlgorithm(any, () => seen.push('any algorithm'));
    b.abort('b');
    a.abort('a');
    expect(seen).toEqual(['any algorithm', 'any', 'b', false, 'a', true, 'b']);
    expect(any.reason).toBe('b');
  });

  it('aborts dependents before any of their events run', () => {
    const controller = new AbortController();
    const first = AbortSignal.any([controller.signal]);
    const second = AbortSignal.any([controller.signal]);
    const seen: unknown[] = [];
    controller.signal.onabort = () => seen.push('source', first.aborted, second.aborted);
    first.onabort = () => seen.push('first');
    second.onabort = () => seen.push('second');
    controller.abort();
    expect(seen).toEqual(['source', true, true, 'first', 'second']);
  });

  it('depends on the sources of a dependent input, not on the input', () => {
    const a = new AbortController();
    const b = new AbortController();
    const inner = AbortSignal.any([a.signal]);
    const outer = AbortSignal.any([inner, b.signal, inner, a.signal]);
    const seen: string[] = [];
    inner.onabort = () => seen.push('inner');
    outer.onabort = () => seen.push('outer');
    a.abort();
    expect(seen).toEqual(['inner', 'outer']);
    expect(outer.reason).toBe(a.signal.reason);
    b.abort();
    expect(seen).toEqual(['inner', 'outer']);
  });

  it('works with AbortSignal.timeout', () => {
    let any!: AbortSignal;
    const timers = withFakeTimers(() => {
      any = AbortSignal.any([new AbortController().signal, AbortSignal.timeout(10)]);
    });
    timers[0]![0]();
    expect((any.reason as DOMException).name).toBe('TimeoutError');
  });

  it('takes only an iterable of AbortSignals', () => {
    const signal = new AbortController().signal;
    expect(() => (AbortSignal.any as unknown as () => void)()).toThrow(TypeError);
    expect(() => AbortSignal.any(5 as never)).toThrow(TypeError);
    expect(() => AbortSignal.any({} as never)).toThrow(TypeError);
    expect(() => AbortSignal.any([signal, new EventTarget()] as never)).toThrow("an element of parameter 1 is not of type 'AbortSignal'");
    expect(() => AbortSignal.any([AbortSignal.abort(), 'x'] as never)).toThrow(TypeError);
    function* gen(): Generator<AbortSignal> {
      yield signal;
    }
    expect(AbortSignal.any(gen()).aborted).toBe(false);
  });

  it('holds dependents weakly, unless they have abort listeners or algorithms', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const source = new AbortController();
    const refs: WeakRef<AbortSignal>[] = [];
    let heard = 0;
    const listener = (): void => void heard++;
    (() => {
      for (let i = 0; i < 100; i++) refs.push(new WeakRef(AbortSignal.any([source.signal])));
      const unobserved = AbortSignal.any([source.signal]);
      unobserved.addEventListener('abort', listener);
      unobserved.removeEventListener('abort', listener);
      refs.push(new WeakRef(unobserved));
      const done = AbortSignal.any([source.signal]);
      addAbortAlgorithm(done, listener)();
      refs.push(new WeakRef(done));
      AbortSignal.any([source.signal]).addEventListener('abort', listener);
      AbortSignal.any([source.signal]).onabort = listener;
      addAbortAlgorithm(AbortSignal.any([source.signal]), listener);
      new EventTarget().addEventListener('x', listener, { signal: AbortSignal.any([source.signal]) });
    })();
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    expect(refs.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    source.abort();
    expect(heard).toBe(3);
  });
});
