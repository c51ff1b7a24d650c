// The global scope as an event target (global-scope.ts), on the runtime's own Event classes.
import { describe, expect, it } from 'vitest';
import { defineEventInterfaces } from './event-interfaces.ts';
import { Event, setReportError } from './event.ts';
import { defineGlobalScope } from './global-scope.ts';

function scope() {
  const logged: unknown[] = [];
  let made = 0;
  const { ErrorEvent } = defineEventInterfaces();
  const global = defineGlobalScope(() => {
    made++;
    return ErrorEvent as never;
  }, (error) => logged.push(error));
  // What a listener throws goes where the runtime sends it: the plain log, never back here.
  setReportError((error) => logged.push(['listener threw', error]));
  return { global, logged, made: () => made };
}

describe('the global scope as an event target', () => {
  it('reportError logs, and makes no ErrorEvent while no one listens for one', () => {
    const { global, logged, made } = scope();
    const error = new Error('x');
    global.reportError(error);
    expect(logged).toEqual([error]);
    expect(made()).toBe(0);
  });

  it("reportError fires an ErrorEvent at 'error' listeners, then logs all the same", () => {
    const { global, logged } = scope();
    const seen: unknown[] = [];
    global.addEventListener('error', (e: { message: string; error: unknown; target: unknown; cancelable: boolean; isTrusted: boolean }) => {
      seen.push([e.message, e.error, e.target === globalThis, e.cancelable, e.isTrusted]);
    });
    const error = new TypeError('bad');
    global.reportError(error);
    global.reportError(42);
    expect(seen).toEqual([['Uncaught TypeError: bad', error, true, false, true], ['Uncaught 42', 42, true, false, true]]);
    expect(logged).toEqual([error, 42]);
  });

  it("an 'error' listener that throws is logged once, not reported again (no loop)", () => {
    const { global, logged } = scope();
    let calls = 0;
    const thrown = new Error('from the listener');
    global.addEventListener('error', () => {
      calls++;
      throw thrown;
    });
    global.reportError(new Error('first'));
    expect(calls).toBe(1);
    expect(logged).toEqual([['listener threw', thrown], expect.objectContaining({ message: 'first' })]);
  });

  it('dispatchEvent runs listeners of any type, shows the global object, and says whether the event was canceled', () => {
    const { global } = scope();
    const seen: unknown[] = [];
    const listener = function (this: unknown, e: Event) {
      seen.push([e.type, (e.target as unknown) === globalThis, (e.currentTarget as unknown) === globalThis, this === globalThis]);
      e.preventDefault();
    };
    global.addEventListener('custom', listener);
    expect(global.dispatchEvent(new Event('custom', { cancelable: true }))).toBe(false);
    expect(global.dispatchEvent(new Event('custom'))).toBe(true);
    global.removeEventListener('custom', listener);
    expect(global.dispatchEvent(new Event('custom', { cancelable: true }))).toBe(true);
    expect(seen).toEqual([['custom', true, true, true], ['custom', true, true, true]]);
    expect(() => global.dispatchEvent({ type: 'custom' })).toThrow(TypeError);
  });
});
