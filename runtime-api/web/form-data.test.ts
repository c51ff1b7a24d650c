import { describe, expect, it } from 'vitest';
import { Blob, File } from './blob.ts';
import { createFormData, FormData, formDataEntryList, isFormData } from './form-data.ts';

type AnyFormData = FormData | globalThis.FormData;

/** The entries with each File shown as [name, type, size], for comparing ours with Node's. */
function describeEntries(formData: AnyFormData): unknown[] {
  return [...formData].map(([name, value]) => [name, typeof value === 'string' ? value : [value.name, value.type, value.size]]);
}

describe('FormData', () => {
  it('keeps an entry list as Node does', () => {
    const ours = new FormData();
    const node = new globalThis.FormData();
    for (const formData of [ours, node] as AnyFormData[]) {
      formData.append('a', '1');
      formData.append('b\ud800', 'x\ud800');
      formData.append('a', 2 as never);
      formData.append('c', '3');
      formData.append('a', '4');
      formData.set('a', '5');
      formData.set('d', '6');
      formData.delete('c');
      formData.append('e', 'crlf\nstays\r\nas given');
    }
    expect(describeEntries(ours)).toEqual(describeEntries(node));
    expect([ours.get('a'), ours.get('zz'), ours.getAll('a'), ours.getAll('zz'), ours.has('d'), ours.has('c')]).toEqual([
      node.get('a'), node.get('zz'), node.getAll('a'), node.getAll('zz'), node.has('d'), node.has('c'),
    ]);
    expect(ours.get('b\ufffd')).toBe('x\ufffd');
  });

  it('makes files of blobs, named "blob" or by the filename', async () => {
    const formData = new FormData();
    const file = new File(['f'], 'f.txt', { type: 'text/plain', lastModified: 5 });
    formData.append('blob', new Blob(['abc'], { type: 'a/b' }));
    formData.append('named', new Blob(['abc']), 'n.bin');
    formData.append('file', file);
    formData.append('renamed', file, 'r.txt');
    formData.set('set', new Blob([]), 0 as never);
    expect(describeEntries(formData)).toEqual([
      ['blob', ['blob', 'a/b', 3]],
      ['named', ['n.bin', '', 3]],
      ['file', ['f.txt', 'text/plain', 1]],
      ['renamed', ['r.txt', 'text/plain', 1]],
      ['set', ['0', '', 0]],
    ]);
    expect(formData.get('file')).toBe(file);
    const renamed = formData.get('renamed') as File;
    expect(renamed).not.toBe(file);
    expect([renamed.lastModified, await renamed.text()]).toEqual([5, 'f']);
    expect(formData.get('blob')).toBeInstanceOf(File);
  });

  it('resolves its overloads as WebIDL does', () => {
    const formData = new FormData();
    // Three arguments pick the Blob overload; so does a Blob value.
    expect(() => formData.append('a', 'b', 'c' as never)).toThrow(TypeError);
    expect(() => formData.set('a', 'b', undefined)).toThrow(TypeError);
    expect(() => formData.append('a', new globalThis.Blob([]) as never, 'c')).toThrow(TypeError);
    formData.append('a', new globalThis.Blob([]) as never);
    expect(formData.get('a')).toBe('[object Blob]');
    expect(() => (formData.append as (name: string) => void)('a')).toThrow(TypeError);
    expect(() => (formData.get as unknown as () => void)()).toThrow(TypeError);
    expect(() => formData.has(Symbol() as never)).toThrow(TypeError);
  });

  it('takes no form', () => {
    expect(describeEntries(new FormData(undefined))).toEqual([]);
    for (const form of [null, {}, 'form']) expect(() => new FormData(form as never), String(form)).toThrow(TypeError);
  });

  it('replaces the first entry of a name in set(), keeping its place', () => {
    const formData = new FormData();
    for (const [name, value] of [['a', '1'], ['b', '2'], ['a', '3'], ['c', '4'], ['a', '5']]) formData.append(name!, value!);
    formData.set('a', 'x');
    expect([...formData]).toEqual([['a', 'x'], ['b', '2'], ['c', '4']]);
  });

  it('iterates over the live entry list', () => {
    const formData = new FormData();
    formData.append('a', '1');
    const seen: string[] = [];
    for (const [name, value] of formData) {
      seen.push(`${name}=${value}`);
      if (name === 'a') formData.append('b', '2');
    }
    expect(seen).toEqual(['a=1', 'b=2']);
    expect([...formData.keys()]).toEqual(['a', 'b']);
    expect([...formData.values()]).toEqual(['1', '2']);
    const calls: unknown[] = [];
    const thisArg = {};
    formData.forEach(function (this: unknown, value, name, parent) {
      calls.push([value, name, parent === formData, this === thisArg]);
      if (name === 'a') formData.delete('b');
    }, thisArg);
    expect(calls).toEqual([['1', 'a', true, true]]);
    expect(() => formData.forEach(1 as never)).toThrow(TypeError);
  });

  it('has the WebIDL shape', () => {
    expect(FormData.prototype[Symbol.iterator]).toBe(FormData.prototype.entries);
    for (const key of ['append', 'delete', 'get', 'getAll', 'has', 'set', 'forEach', 'keys', 'values', 'entries']) {
      expect(Object.getOwnPropertyDescriptor(FormData.prototype, key)!.enumerable, key).toBe(true);
    }
    const iterator = new FormData().entries();
    const iteratorPrototype = Object.getPrototypeOf(iterator);
    expect(Object.prototype.toString.call(iterator)).toBe('[object FormData Iterator]');
    expect(Object.getOwnPropertyNames(iteratorPrototype)).toEqual(['next']);
    expect(Object.getPrototypeOf(iteratorPrototype)).toBe(Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())));
    expect(Object.prototype.toString.call(new FormData())).toBe('[object FormData]');
    expect(() => FormData.prototype.get.call({}, 'a')).toThrow(TypeError);
  });
});

describe('the module functions', () => {
  it('brand-check, read and adopt entry lists', () => {
    const formData = createFormData([['a', '1']]);
    expect([isFormData(formData), isFormData(new globalThis.FormData()), isFormData(null)]).toEqual([true, false, false]);
    formData.append('b', '2');
    expect(formDataEntryList(formData)).toEqual([['a', '1'], ['b', '2']]);
  });
});
