import { describe, expect, it } from 'vitest';
import {
  appendToHeaderList,
  copyHeaders,
  getHeadersGuard,
  headerListContains,
  Headers,
  headersFromFlat,
  headersToFlat,
  setHeadersGuard,
} from './headers.ts';

type AnyHeaders = globalThis.Headers | Headers;

function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (error) {
    return `throws ${(error as Error).name}`;
  }
}

function snapshot(h: AnyHeaders): unknown {
  return { entries: [...h], setCookie: h.getSetCookie() };
}

// Deterministic xorshift, so a failure reproduces.
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('Headers', () => {
  it('matches Node on random operation sequences', () => {
    const next = random(42);
    const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)]!;
    const names = ['a', 'A', 'b', 'Content-Type', 'set-cookie', 'Set-Cookie', 'x-Z', 'zz', 'bad name', '', 'é', 'ĉ'];
    // (Values past U+00FF differ from Node's on purpose: the next test.)
    const values = ['1', ' 2 ', '\tthree\r\n', '', 'a, b', 'x\0y', 'a\nb', 'é', '  ', 'v=1; Path=/'];
    for (let round = 0; round < 300; round++) {
      const ours = new Headers();
      const node = new globalThis.Headers();
      for (let step = 0; step < 12; step++) {
        const op = pick(['append', 'append', 'set', 'delete', 'get', 'has']);
        const name = pick(names);
        const value = pick(values);
        const run = (h: AnyHeaders) =>
          outcome(() => (op === 'append' || op === 'set' ? h[op](name, value) : h[op as 'get'](name)));
        expect(run(ours), `${op}(${JSON.stringify(name)}, ${JSON.stringify(value)})`).toEqual(run(node));
        expect(snapshot(ours)).toEqual(snapshot(node));
      }
    }
  });

  it('keeps values past U+00FF as text, as workerd does (Fetch and Node refuse them as no ByteString)', () => {
    const h = new Headers({ 'content-disposition': 'attachment; filename="čšž €.pdf"' });
    h.append('x-name', ' Ĉu ');
    h.set('x-lone', 'a\ud800b');
    expect([...h]).toEqual([['content-disposition', 'attachment; filename="čšž €.pdf"'], ['x-lone', 'a\ufffdb'], ['x-name', 'Ĉu']]);
    expect(() => h.set('x-bad', '€\nx')).toThrow(TypeError);
    // Names stay tokens.
    expect(() => h.set('ĉ', 'x')).toThrow(TypeError);
  });

  it('constructs from pairs, records and Headers like Node', () => {
    const inits: unknown[] = [
      undefined,
      [['a', '1'], ['B', '2'], ['a', '3']],
      [new Set(['x', 'y'])],
      { A: ' 1 ', b: '2', 'set-cookie': 'c=1' },
      new globalThis.Map([['m', 'v']]),
      [],
      {},
      Object.create(null),
      [['a']],
      [['a', 'b', 'c']],
      ['ab'],
      [[1, 2]],
      null,
      'abc',
      5,
      { 'bad name': 'x' },
      { a: 'x\ny' },
      { [Symbol('s')]: 'x' },
      { [Symbol.iterator]: 5 },
    ];
    for (const [i, init] of inits.entries()) {
      const ours = outcome(() => snapshot(new Headers(init as never)));
      const node = outcome(() => snapshot(new globalThis.Headers(init as never)));
      expect(ours, `init ${i}`).toEqual(node);
    }
    // WebIDL record conversion skips non-enumerable keys, symbols too; Node's
    // undici reads them (and throws on the symbol).
    const hidden = Object.defineProperty({ shown: '1' }, 'hidden', { value: 1 });
    Object.defineProperty(hidden, Symbol('hidden'), { value: 1 });
    expect([...new Headers(hidden as never)]).toEqual([['shown', '1']]);
    const source = new Headers([['a', '1'], ['set-cookie', 'x'], ['a', '2'], ['set-cookie', 'y']]);
    expect(snapshot(new Headers(source))).toEqual(snapshot(new globalThis.Headers(source as never)));
    const nodeSource = new globalThis.Headers(source as never);
    expect(snapshot(new Headers(nodeSource as never))).toEqual(snapshot(source));
  });

  it('sorts and combines, keeping set-cookie values apart', () => {
    const h = new Headers([['b', '1'], ['a', 'x'], ['Set-Cookie', 'c1'], ['B', '2'], ['set-cookie', 'c2']]);
    expect([...h]).toEqual([['a', 'x'], ['b', '1, 2'], ['set-cookie', 'c1'], ['set-cookie', 'c2']]);
    expect([...h.keys()]).toEqual(['a', 'b', 'set-cookie', 'set-cookie']);
    expect([...h.values()]).toEqual(['x', '1, 2', 'c1', 'c2']);
    expect(h.get('set-cookie')).toBe('c1, c2');
    expect(h.getSetCookie()).toEqual(['c1', 'c2']);
    // Workers' older getAll, for Set-Cookie only (workerd's words for any other name).
    expect(h.getAll('Set-Cookie')).toEqual(['c1', 'c2']);
    expect(() => h.getAll('b')).toThrow(/only be used with the header name "Set-Cookie"/);
    expect(() => h.getAll('bad name')).toThrow(TypeError);
  });

  it('iterates live, as WebIDL pair iterators do', () => {
    const h = new Headers([['b', '1']]);
    const it = h.entries();
    h.append('a', '0');
    expect(it.next()).toEqual({ value: ['a', '0'], done: false });
    expect(it.next()).toEqual({ value: ['b', '1'], done: false });
    expect(it.next()).toEqual({ value: undefined, done: true });
    h.append('c', '2');
    expect(it.next()).toEqual({ value: ['c', '2'], done: false });
    const seen: string[] = [];
    const self: unknown[] = [];
    h.forEach(function (this: unknown, value, name, parent) {
      seen.push(`${name}=${value}`);
      self.push(this, parent);
      if (name === 'a') h.delete('b');
    }, 'thisArg');
    expect(seen).toEqual(['a=0', 'c=2']);
    expect(self).toEqual(['thisArg', h, 'thisArg', h]);
    expect(() => h.forEach(5 as never)).toThrow(TypeError);
  });

  it('has the WebIDL shape of Node\'s Headers, and Workers\' getAll', () => {
    expect(Object.keys(Headers.prototype).sort()).toEqual([...Object.keys(globalThis.Headers.prototype), 'getAll'].sort());
    expect(Headers.prototype[Symbol.iterator]).toBe(Headers.prototype.entries);
    expect(Object.prototype.toString.call(new Headers())).toBe('[object Headers]');
    const it = new Headers().keys();
    const proto = Object.getPrototypeOf(it);
    expect(Object.getOwnPropertyNames(proto)).toEqual(['next']);
    expect(Object.prototype.toString.call(it)).toBe('[object Headers Iterator]');
    expect(it[Symbol.iterator]()).toBe(it);
    expect(() => proto.next.call({})).toThrow(TypeError);
    expect(() => Headers.prototype.get.call({}, 'a')).toThrow(TypeError);
    expect(() => (new Headers().append as (n: string) => void)('a')).toThrow(TypeError);
    expect(() => (new Headers().get as unknown as () => void)()).toThrow(TypeError);
  });

  it('refuses changes when immutable', () => {
    const h = new Headers([['a', '1']]);
    setHeadersGuard(h, 'immutable');
    expect(getHeadersGuard(h)).toBe('immutable');
    expect(() => h.append('b', '2')).toThrow(TypeError);
    expect(() => h.set('a', '2')).toThrow(TypeError);
    expect(() => h.delete('a')).toThrow(TypeError);
    expect(() => h.delete('absent')).toThrow(TypeError);
    expect(h.get('a')).toBe('1');
    expect(snapshot(new Headers(h))).toEqual(snapshot(h));
    expect(() => new Headers(h).append('b', '2')).not.toThrow();
  });

  it('gives the dispatcher flat lists without copies, and copies on write', () => {
    const wire = ['Host', 'example.com', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'ACCEPT', '*/*'];
    const h = headersFromFlat(wire, 'none');
    expect(h.get('host')).toBe('example.com');
    expect([...h]).toEqual([['accept', '*/*'], ['host', 'example.com'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    const flat = headersToFlat(h);
    expect(flat).toEqual(['host', 'example.com', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'accept', '*/*']);
    h.set('x', 'y');
    expect(flat).toHaveLength(8);
    expect(headersToFlat(h)).toEqual([...flat, 'x', 'y']);
    expect(headerListContains(h, 'x')).toBe(true);
    const frozen = headersFromFlat(['a', '1'], 'immutable');
    expect(() => frozen.append('b', '1')).toThrow(TypeError);
    appendToHeaderList(frozen, 'b', '2');
    expect(frozen.get('b')).toBe('2');
    const copy = copyHeaders(frozen, 'request');
    copy.append('c', '3');
    expect([frozen.has('c'), copy.has('c'), getHeadersGuard(copy)]).toEqual([false, true, 'request']);
  });
});
