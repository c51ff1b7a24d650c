import { describe, expect, it } from 'vitest';
import { Headers } from '../fetch/headers.ts';
import { Blob, File } from './blob.ts';
import { DOMException } from './dom-exception.ts';
import { structuredClone } from './structured-clone.ts';

function errorName(f: () => unknown): string {
  try {
    f();
    return 'no error';
  } catch (error) {
    return (error as Error).name;
  }
}

describe('structuredClone', () => {
  it('clones what Node clones, the same way', () => {
    const sparse = [1, , 3];
    (sparse as unknown as Record<string, unknown>).extra = 'x';
    const getterObject = {
      get computed() {
        return 42;
      },
    };
    class Point {
      x = 1;
      y = 2;
      method(): void {}
    }
    const cases: unknown[] = [
      undefined, null, true, 0, -0, NaN, 1.5, 10n, '', 'text', '\ud800',
      Object(false), Object(3), Object(-0), Object(5n), Object('str'),
      new Date(0), new Date(NaN), /a+b/gimsuyd, /x/v, new RegExp('/', 'g'),
      [], sparse, [[1, [2]], { a: [3] }],
      {}, { a: 1, b: { c: 'd' } }, getterObject, new Point(), Object.create(null),
      new Map<unknown, unknown>([[1, 'a'], [{ k: 1 }, new Set([1, 2])]]), new Set(['a', { b: 1 }]),
      new ArrayBuffer(8), new Uint8Array([1, 2, 3]), new Float64Array([1.5, -0]), new BigInt64Array([1n]),
      new DataView(new ArrayBuffer(16), 4, 8), new Uint16Array(new ArrayBuffer(16), 2, 3),
      new Error('e'), new TypeError('t'), new RangeError('r'), new SyntaxError(), new URIError('u'), new EvalError('e'), new ReferenceError('r'),
      new Error('with cause', { cause: { deep: [1] } }),
    ];
    for (const [i, value] of cases.entries()) {
      expect(structuredClone(value), `case ${i}`).toStrictEqual(globalThis.structuredClone(value));
    }
  });

  it('makes fresh objects with no prototype kept', () => {
    class Point {
      x = 1;
    }
    const p = new Point();
    const c = structuredClone(p);
    expect(c).not.toBe(p);
    expect(Object.getPrototypeOf(c)).toBe(Object.prototype);
    const n = structuredClone(Object.create(null));
    expect(Object.getPrototypeOf(n)).toBe(Object.prototype);
    const re = /a/g;
    re.lastIndex = 3;
    expect(structuredClone(re).lastIndex).toBe(0);
    expect(Object.is(structuredClone(-0), -0)).toBe(true);
    expect(Object.keys(structuredClone({ [Symbol('s')]: 1, a: 2 }))).toEqual(['a']);
    const hidden = Object.defineProperty({}, 'h', { value: 1, enumerable: false });
    expect(structuredClone(hidden)).toEqual({});
    const own = JSON.parse('{"__proto__": {"x": 1}}') as object;
    const ownClone = structuredClone(own);
    expect(Object.hasOwn(ownClone, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(ownClone)).toBe(Object.prototype);
  });

  it('keeps error details', () => {
    const e = new TypeError('boom');
    const c = structuredClone(e);
    expect(c).toBeInstanceOf(TypeError);
    expect([c.message, c.stack]).toEqual([e.message, e.stack]);
    const renamed = new Error('x');
    renamed.name = 'RangeError';
    expect(structuredClone(renamed)).toBeInstanceOf(RangeError);
    class Custom extends Error {
      override name = 'Custom';
    }
    expect(structuredClone(new Custom('c')).constructor).toBe(Error);
    const selfCause = new Error('loop');
    selfCause.cause = selfCause;
    const loop = structuredClone(selfCause);
    expect(loop.cause).toBe(loop);
    const d = structuredClone(new DOMException('gone', 'AbortError'));
    expect(d).toBeInstanceOf(DOMException);
    expect([d.name, d.message, d.code]).toEqual(['AbortError', 'gone', 20]);
  });

  it('preserves shared and circular references', () => {
    const shared = { s: 1 };
    const root: Record<string, unknown> = { a: shared, b: shared, list: [shared] };
    root.self = root;
    const map = new Map<unknown, unknown>();
    map.set(map, root);
    root.map = map;
    const c = structuredClone(root);
    expect(c.a).toBe(c.b);
    expect((c.list as unknown[])[0]).toBe(c.a);
    expect(c.self).toBe(c);
    const cm = c.map as Map<unknown, unknown>;
    expect(cm.get(cm)).toBe(c);
    const buffer = new ArrayBuffer(8);
    const views = structuredClone([new Uint8Array(buffer), new DataView(buffer, 2), buffer]) as [Uint8Array, DataView, ArrayBuffer];
    expect(views[0]!.buffer).toBe(views[2]);
    expect(views[1]!.buffer).toBe(views[2]);
    expect(views[2]).not.toBe(buffer);
  });

  it('invokes getters once, in order', () => {
    const calls: string[] = [];
    const value = {
      get b() {
        calls.push('b');
        return 1;
      },
      get a() {
        calls.push('a');
        delete (value as Record<string, unknown>).b;
        return 2;
      },
    };
    expect(structuredClone(value)).toEqual({ b: 1, a: 2 });
    expect(calls).toEqual(['b', 'a']);
    const deleting = {
      get first() {
        delete (deleting as Record<string, unknown>).second;
        return 1;
      },
      second: 2,
    };
    expect(structuredClone(deleting)).toEqual({ first: 1 });
  });

  it('throws DataCloneError for what cannot be cloned', () => {
    const uncloneable: unknown[] = [
      () => {}, Symbol('s'), { f() {} }, [Symbol()], new WeakMap(), new WeakSet(), new WeakRef({}), Promise.resolve(),
      Object(Symbol()), new Map([[1, () => {}]]), new Headers(), [1, 2].values(), (function* () {})(),
      new Proxy(() => {}, {}), new SharedArrayBuffer(4), new Intl.Collator(), new FinalizationRegistry(() => {}),
    ];
    for (const [i, value] of uncloneable.entries()) {
      expect(() => structuredClone(value), `case ${i}`).toThrow(DOMException);
      expect(errorName(() => structuredClone(value)), `case ${i}`).toBe('DataCloneError');
    }
    const detached = new ArrayBuffer(4);
    const views = [new Uint8Array(detached), new DataView(detached)];
    detached.transfer();
    expect(errorName(() => structuredClone(detached))).toBe('DataCloneError');
    for (const view of views) expect(errorName(() => structuredClone(view))).toBe('DataCloneError');
  });

  it('clones Blob and File (File API serialization steps), as their own classes', async () => {
    const blob = new Blob(['ab'], { type: 'text/x' });
    const file = new File(['cd'], 'n.txt', { type: 'text/y', lastModified: 42 });
    const [b, f, again] = structuredClone([blob, file, blob]) as [Blob, File, Blob];
    expect([b instanceof Blob, b !== blob, b.type, b.size, await b.text()]).toEqual([true, true, 'text/x', 2, 'ab']);
    expect([f instanceof File, f.name, f.type, f.lastModified, await f.text()]).toEqual([true, 'n.txt', 'text/y', 42, 'cd']);
    expect(again).toBe(b);
  });

  it('transfers ArrayBuffers', () => {
    const buffer = new Uint8Array([1, 2, 3]).buffer;
    const view = new Uint8Array(buffer, 1);
    const [clonedView, clonedBuffer] = structuredClone([view, buffer], { transfer: [buffer] });
    expect(buffer.detached).toBe(true);
    expect(clonedBuffer).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(clonedBuffer as ArrayBuffer)]).toEqual([1, 2, 3]);
    expect((clonedView as Uint8Array).buffer).toBe(clonedBuffer);
    const resizable = new ArrayBuffer(2, { maxByteLength: 8 });
    const moved = structuredClone(resizable, { transfer: [resizable] });
    expect([moved.resizable, moved.maxByteLength, resizable.detached]).toEqual([true, 8, true]);
    const copied = structuredClone(new ArrayBuffer(2, { maxByteLength: 8 }));
    expect([copied.resizable, copied.maxByteLength]).toEqual([true, 8]);
  });

  it('checks transfer lists before detaching anything', () => {
    const a = new ArrayBuffer(1);
    expect(errorName(() => structuredClone(a, { transfer: [a, a] }))).toBe('DataCloneError');
    expect(errorName(() => structuredClone(a, { transfer: [{}] }))).toBe('DataCloneError');
    expect(errorName(() => structuredClone(a, { transfer: [new SharedArrayBuffer(1)] }))).toBe('DataCloneError');
    expect(errorName(() => structuredClone(() => {}, { transfer: [a] }))).toBe('DataCloneError');
    expect(a.detached).toBe(false);
    const b = new ArrayBuffer(1);
    const detachesB = {
      get x() {
        b.transfer();
        return 1;
      },
    };
    expect(errorName(() => structuredClone(detachesB, { transfer: [b] }))).toBe('DataCloneError');
    expect(errorName(() => structuredClone(1, { transfer: 5 }))).toBe('TypeError');
    expect(errorName(() => structuredClone(1, { transfer: [1] }))).toBe('TypeError');
    expect(errorName(() => structuredClone(1, 5))).toBe('TypeError');
    expect(structuredClone(1, null)).toBe(1);
    expect(structuredClone(1, { transfer: undefined })).toBe(1);
    expect(errorName(() => (structuredClone as () => unknown)())).toBe('TypeError');
  });
});
