import { afterEach, describe, expect, it, vi } from 'vitest';
import { Blob, File, blobBytes, createFile, isBlob, isFile, toBlobType } from './blob.ts';

afterEach(() => vi.unstubAllGlobals());

async function contents(blob: Blob | globalThis.Blob): Promise<[number, string, number[]]> {
  return [blob.size, blob.type, [...new Uint8Array(await blob.arrayBuffer())]];
}

/** The same parts for our Blob and Node's, our Blobs standing in for Node's. */
function bothParts(make: (B: typeof Blob | typeof globalThis.Blob) => unknown[]): [unknown[], unknown[]] {
  return [make(Blob), make(globalThis.Blob)];
}

describe('Blob', () => {
  it('holds the bytes of its parts as Node does', async () => {
    const buffer = new Uint8Array([1, 2, 3, 4, 5]).buffer;
    const cases: [(B: typeof Blob | typeof globalThis.Blob) => unknown[], object?][] = [
      [() => []],
      [() => ['héllo €', '', '\ud800x', '\ufeffbom', '😀']],
      [() => [buffer, new Uint8Array(buffer, 1, 3), new DataView(buffer, 2), new Float32Array([1.5]), new ArrayBuffer(0)]],
      [(B) => ['a', new B(['b', new Uint8Array([0xff])]), new B([new B(['c']) as never]).slice(0), 'd']],
      [() => [42, null, undefined, { toString: () => 'custom' }, [1, 2]]],
      [() => ['x'], { type: 'Text/HTML;Charset=UTF-8' }],
      [() => ['x'], { type: 'text/é' }],
      [() => ['x'], { type: 'text/plain\x7f' }],
      [() => ['a\r\nb\rc\nd\n\r'], { endings: 'native' }],
      [() => ['a\r\nb\rc'], { endings: 'transparent', type: '' }],
    ];
    for (const [i, [make, options]] of cases.entries()) {
      const [ours, node] = bothParts(make);
      expect(await contents(new Blob(ours as never, options)), `case ${i}`).toEqual(
        await contents(new globalThis.Blob(node as never, options)),
      );
    }
    expect(await contents(new Blob())).toEqual([0, '', []]);
  });

  it('converts its arguments as WebIDL does', () => {
    for (const bad of ['abc', null, 1, {}, { [Symbol.iterator]: 1 }]) expect(() => new Blob(bad as never), String(bad)).toThrow(TypeError);
    expect(() => new Blob([Symbol() as never])).toThrow(TypeError);
    expect(() => new Blob([], { endings: 'crlf' as never })).toThrow(TypeError);
    expect(() => new Blob([], 1 as never)).toThrow(TypeError);
    // BufferSource has no [AllowShared]: a shared buffer is a string part, a view of one an error.
    expect(new Blob([new SharedArrayBuffer(1) as never]).size).toBe('[object SharedArrayBuffer]'.length);
    expect(() => new Blob([new Uint8Array(new SharedArrayBuffer(1))])).toThrow(TypeError);
    expect(() => new Blob([new ArrayBuffer(1, { maxByteLength: 2 })])).toThrow(TypeError);
    const read: string[] = [];
    const options = new Proxy({ type: 'A', endings: 'native' }, { get: (t, key: string) => (read.push(key), t[key as keyof typeof t]) });
    expect(new Blob(['\r'], options as never).type).toBe('a');
    expect(read).toEqual(['endings', 'type']);
  });

  it('looks up @@iterator once and takes any iterable', async () => {
    let lookups = 0;
    const parts = {
      get [Symbol.iterator]() {
        lookups++;
        return function* () {
          yield 'a';
          yield new Uint8Array([0x62]);
        };
      },
    };
    expect(await new Blob(parts as never).text()).toBe('ab');
    expect(lookups).toBe(1);
    expect(await new Blob(new Set(['x', 'y'])).text()).toBe('xy');
  });

  it('copies its parts when it is made, and hands out copies', async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const blob = new Blob([bytes]);
    bytes[0] = 9;
    const out = await blob.bytes();
    out[1] = 9;
    new Uint8Array(await blob.arrayBuffer())[2] = 9;
    expect([...(await blob.bytes())]).toEqual([1, 2, 3]);
    // The parts' conversion runs before the options are read; the copy after.
    const late = new Uint8Array([1]);
    const copied = new Blob([late], { get type() { late[0] = 2; return ''; } } as never);
    expect([...(await copied.bytes())]).toEqual([2]);
  });

  it('slices as Node does, negative positions counting from the end', async () => {
    const ours = new Blob(['0123456789']);
    const node = new globalThis.Blob(['0123456789']);
    const positions = [undefined, 0, 3, -3, 9, 10, 11, -10, -11, -100, 100];
    for (const start of positions) {
      for (const end of positions) {
        expect(await ours.slice(start, end).text(), `${start}, ${end}`).toBe(await node.slice(start, end).text());
      }
    }
    expect(ours.slice(2, 5, 'Text/Plain').type).toBe('text/plain');
    expect(ours.slice(2, 5, 'ü').type).toBe('');
    expect(new Blob(['x'], { type: 'a/b' }).slice().type).toBe('');
    expect(await ours.slice(2).slice(1, -1).text()).toBe('345678');
    expect(ours.slice(5, 2).size).toBe(0);
  });

  it('converts slice positions as [Clamp] long long', async () => {
    const blob = new Blob(['0123456789']);
    const cases: [unknown, unknown, string][] = [
      [1.5, undefined, '23456789'],
      [2.5, undefined, '23456789'],
      [-1.5, undefined, '89'],
      [NaN, 3, '012'],
      [-Infinity, Infinity, '0123456789'],
      ['4', '6', '45'],
      [null, 2, '01'],
    ];
    for (const [start, end, text] of cases) expect(await blob.slice(start as never, end as never).text(), `${start}, ${end}`).toBe(text);
    expect(() => blob.slice(1n as never)).toThrow(TypeError);
    expect(() => blob.slice(Symbol() as never)).toThrow(TypeError);
  });

  it('reads text with "UTF-8 decode"', async () => {
    expect(await new Blob(['\ufeff\ufeffa']).text()).toBe('\ufeffa');
    expect(await new Blob([new Uint8Array([0xc3, 0xa9, 0xff])]).text()).toBe('é\ufffd');
    expect(await new Blob(['\ud800']).text()).toBe('\ufffd');
  });

  it('streams its bytes where ReadableStream exists, and says so where it does not', async () => {
    const blob = new Blob(['stream ', new Uint8Array([0, 1])]);
    expect([...(await new Response(blob.stream()).bytes())]).toEqual([...(await blob.bytes())]);
    expect(await new Response(new Blob().stream()).text()).toBe('');
    vi.stubGlobal('ReadableStream', undefined);
    expect(() => blob.stream()).toThrow(/streams are not available yet/);
    expect(() => blob.stream()).toThrow(TypeError);
  });

  it('has the WebIDL shape, and brand-checks this', async () => {
    for (const key of ['size', 'type', 'slice', 'stream', 'text', 'arrayBuffer', 'bytes']) {
      expect(Object.getOwnPropertyDescriptor(Blob.prototype, key)!.enumerable, key).toBe(true);
    }
    expect(Object.prototype.toString.call(new Blob())).toBe('[object Blob]');
    expect([Blob.length, File.length]).toEqual([0, 2]);
    await expect(Blob.prototype.text.call({})).rejects.toThrow(TypeError);
    await expect(Blob.prototype.bytes.call(new globalThis.Blob([]) as never)).rejects.toThrow(TypeError);
    expect(() => Object.getOwnPropertyDescriptor(Blob.prototype, 'size')!.get!.call({})).toThrow(TypeError);
    expect(() => Blob.prototype.slice.call({})).toThrow(TypeError);
    expect(() => (Blob as unknown as () => Blob)()).toThrow(TypeError);
    class Sub extends Blob {}
    expect(await new Sub(['s']).text()).toBe('s');
  });
});

describe('File', () => {
  it('is a Blob with a name and lastModified, as Node makes it', async () => {
    const options = { type: 'Image/PNG', lastModified: 1234, endings: 'native' as const };
    const ours = new File(['a\r\n', new Blob(['b'])], 'pic\ud800.png', options);
    const node = new globalThis.File(['a\r\n', new globalThis.Blob(['b'])], 'pic\ud800.png', options);
    expect([ours.name, ours.lastModified, ...(await contents(ours))]).toEqual([node.name, node.lastModified, ...(await contents(node))]);
    expect(ours).toBeInstanceOf(Blob);
    expect(Object.prototype.toString.call(ours)).toBe('[object File]');
    expect(ours.slice(1)).not.toBeInstanceOf(File);
    expect(Object.getOwnPropertyDescriptor(File.prototype, 'name')!.enumerable).toBe(true);
  });

  it('takes lastModified as a long long, and the time of the call without one', () => {
    const cases: [unknown, number][] = [['5', 5], [1.9, 1], [-1.9, -1], [NaN, 0], [Infinity, 0], [2 ** 64 + 2 ** 12, 2 ** 12], [2 ** 63, -(2 ** 63)]];
    for (const [given, expected] of cases) expect(new File([], 'f', { lastModified: given as never }).lastModified, String(given)).toBe(expected);
    vi.spyOn(Date, 'now').mockReturnValueOnce(42);
    expect(new File([], 'f').lastModified).toBe(42);
    vi.restoreAllMocks();
    const read: string[] = [];
    const options = new Proxy({ lastModified: 1, type: 'a', endings: 'native' }, {
      get: (t, key: string) => (read.push(key), t[key as keyof typeof t]),
    });
    new File([], 'f', options as never);
    expect(read).toEqual(['endings', 'type', 'lastModified']);
  });

  it('needs its bits and a name', () => {
    expect(() => new (File as unknown as new (bits: unknown) => File)([])).toThrow(TypeError);
    expect(() => new File('abc' as never, 'f')).toThrow(TypeError);
    expect(new File([], 1 as never).name).toBe('1');
  });
});

describe('the module functions', () => {
  it('brand-check blobs and files, and make files over shared bytes', async () => {
    const file = createFile(new Uint8Array([104, 105]), 'n', 'text/plain', 7);
    expect([file.name, file.type, file.lastModified, await file.text()]).toEqual(['n', 'text/plain', 7, 'hi']);
    expect([isBlob(file), isFile(file), isBlob(new Blob()), isFile(new Blob()), isBlob({}), isBlob(new globalThis.Blob([]))]).toEqual([
      true, true, true, false, false, false,
    ]);
    const blob = new Blob(['0123']);
    expect(blobBytes(blob.slice(1, 3)).buffer).toBe(blobBytes(blob).buffer);
    expect([toBlobType('A/B'), toBlobType('a/b\n'), toBlobType('')]).toEqual(['a/b', '', '']);
  });
});
