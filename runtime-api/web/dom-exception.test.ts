import { describe, expect, it } from 'vitest';
import { DOMException, isDOMException } from './dom-exception.ts';

describe('DOMException', () => {
  it('has name, message and the legacy code', () => {
    const e = new DOMException('bad char', 'InvalidCharacterError');
    expect([e.name, e.message, e.code]).toEqual(['InvalidCharacterError', 'bad char', 5]);
    expect(new DOMException('x', 'DataCloneError').code).toBe(25);
    expect(new DOMException('x', 'AbortError').code).toBe(20);
    expect(new DOMException('x', 'EncodingError').code).toBe(0);
    expect(new DOMException('x', 'toString').code).toBe(0);
    const d = new DOMException();
    expect([d.name, d.message, d.code]).toEqual(['Error', '', 0]);
    expect(new DOMException(undefined, undefined).name).toBe('Error');
    expect(new DOMException(null as never, 5 as never).name).toBe('5');
    expect(() => new DOMException(Symbol() as never)).toThrow(TypeError);
  });

  it('is an Error with a stack, like Node\'s', () => {
    const e = new DOMException('boom', 'AbortError');
    expect(e).toBeInstanceOf(Error);
    expect(Object.getPrototypeOf(DOMException.prototype)).toBe(Error.prototype);
    expect(e.stack).toMatch(/^AbortError: boom\n/);
    expect(String(e)).toBe('AbortError: boom');
    expect(Object.prototype.toString.call(e)).toBe('[object DOMException]');
    expect(Object.hasOwn(e, 'message')).toBe(false);
  });

  it('exposes the constants as WebIDL does', () => {
    expect(DOMException.INVALID_CHARACTER_ERR).toBe(5);
    expect(DOMException.DATA_CLONE_ERR).toBe(25);
    expect((new DOMException() as unknown as Record<string, number>).ABORT_ERR).toBe(20);
    for (const key of Object.keys(globalThis.DOMException).filter((k) => k.endsWith('_ERR'))) {
      expect(Object.getOwnPropertyDescriptor(DOMException, key)).toEqual(Object.getOwnPropertyDescriptor(globalThis.DOMException, key));
      expect(Object.getOwnPropertyDescriptor(DOMException.prototype, key)).toEqual(
        Object.getOwnPropertyDescriptor(globalThis.DOMException.prototype, key),
      );
    }
    expect(Object.keys(DOMException.prototype).sort()).toEqual(Object.keys(globalThis.DOMException.prototype).sort());
  });

  it('brand-checks its getters', () => {
    const get = Object.getOwnPropertyDescriptor(DOMException.prototype, 'name')!.get!;
    expect(() => get.call({})).toThrow(TypeError);
    expect(isDOMException(new DOMException())).toBe(true);
    expect(isDOMException(new Error())).toBe(false);
    expect(isDOMException(Object.create(DOMException.prototype))).toBe(false);
  });
});
