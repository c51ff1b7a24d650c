import { afterEach, describe, expect, it, vi } from 'vitest';
import { File } from '../web/blob.ts';
import type { FormDataEntry } from '../web/form-data.ts';
import { encodeMultipartFormData, parseMultipartFormData } from './multipart.ts';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

const decoder = new TextDecoder();
const encode = (s: string) => new TextEncoder().encode(s);

/** Entries with each File shown as [name, type, text]. */
async function show(entries: FormDataEntry[]): Promise<unknown[]> {
  return Promise.all(entries.map(async ([name, value]) => [name, typeof value === 'string' ? value : [value.name, value.type, await value.text()]]));
}

describe('multipart/form-data encoding', () => {
  it('writes what HTML says, with a boundary from crypto.getRandomValues', () => {
    vi.spyOn(globalThis.crypto, 'getRandomValues').mockImplementation((array) => {
      (array as Uint8Array).fill(0xab);
      return array;
    });
    const entries: FormDataEntry[] = [
      ['a\nb\r"c\r\n', 'x\ny\rz\r\n'],
      ['f', new File(['hé'], 'n\n"é".txt', { type: 'text/plain' })],
      ['g', new File([new Uint8Array([0, 0xff])], '')],
    ];
    const { bytes, boundary } = encodeMultipartFormData(entries);
    expect(boundary).toBe(`----islet-formdata-${'ab'.repeat(16)}`);
    expect(decoder.decode(bytes)).toBe(
      [
        `--${boundary}`, 'Content-Disposition: form-data; name="a%0D%0Ab%0D%0A%22c%0D%0A"', '', 'x\r\ny\r\nz\r\n',
        `--${boundary}`, 'Content-Disposition: form-data; name="f"; filename="n%0A%22é%22.txt"', 'Content-Type: text/plain', '', 'hé',
        `--${boundary}`, 'Content-Disposition: form-data; name="g"; filename=""', 'Content-Type: application/octet-stream', '', '\0\ufffd',
        `--${boundary}--`, '',
      ].join('\r\n'),
    );
    expect(decoder.decode(encodeMultipartFormData([]).bytes)).toBe(`--${boundary}--\r\n`);
  });

  it('needs crypto.getRandomValues when the body is made', () => {
    const first = encodeMultipartFormData([]).boundary;
    expect(encodeMultipartFormData([]).boundary).not.toBe(first);
    vi.stubGlobal('crypto', undefined);
    expect(() => encodeMultipartFormData([])).toThrow(TypeError);
  });
});

describe('multipart/form-data parsing', () => {
  it('reads its own encoding back', async () => {
    const entries: FormDataEntry[] = [
      ['plain', 'value'],
      ['ünï"cödé\r\n', '\ufeffkeeps its BOM\r\n'],
      ['file', new File(['\r\n--not the boundary\r\n--'], 'a"b\r\n.txt', { type: 'application/json' })],
      ['empty', ''],
      ['blank', new File([], '', { type: 'a/b' })],
      ['untyped', new File([], 'u')],
    ];
    const { bytes, boundary } = encodeMultipartFormData(entries);
    const expected = await show(entries);
    expected[5] = ['untyped', ['u', 'application/octet-stream', '']];
    expect(await show(parseMultipartFormData(bytes, boundary))).toEqual(expected);
  });

  it('allows a preamble, transport padding, an epilogue and RFC 7578 parameters in any form', async () => {
    const body = [
      'preamble, ignored', '--XyZ \t', 'content-disposition: Form-Data; filename=f.txt ;name=token', 'X-Other: ignored', '', 'text',
      '--XyZ', 'Content-Type: Image/PNG', 'Content-Disposition: form-data;name="q";  filename="%0A%0D%22.png"; name="second"', '', '\r\n--XyY-XyZ',
      '--XyZ', 'Content-Disposition: form-data; name="text"; x=y', 'Content-Type: text/html; charset=latin1', '', '\xe9',
      '--XyZ', 'Content-Disposition: form-data; name="untyped"; filename="u"', '', '',
      '--XyZ', 'Content-Disposition: form-data; name="bad type"; filename="v"', 'Content-Type: text/\xe9', '', '',
      '--XyZ--epilogue', 'ignored too',
    ].join('\r\n');
    expect(await show(parseMultipartFormData(encode(body), 'XyZ'))).toEqual([
      ['token', ['f.txt', 'text/plain', 'text']],
      ['q', ['\n\r".png', 'image/png', '\r\n--XyY-XyZ']],
      ['text', 'é'],
      ['untyped', ['u', 'text/plain', '']],
      ['bad type', ['v', '', '']],
    ]);
    expect(parseMultipartFormData(encode('--b--'), 'b')).toEqual([]);
  });

  it('reads the backslash escapes Go\'s mime/multipart writes in quoted names, as workerd does', async () => {
    const part = (disposition: string) => `--b\r\nContent-Disposition: form-data; ${disposition}\r\n\r\nv\r\n`;
    const body = [
      part('name="f"; filename="a\\"b.txt"'),
      part('name="g"; filename="C:\\\\d\\\\f.txt"'),
      // A browser's raw backslash (HTML escapes only LF, CR and '"', as %0A, %0D and %22) stays.
      part('name="h"; filename="a\\b.txt"'),
      part('name="q\\"uote"'),
      // A browser's name that ends in a backslash: not an escaped quote, since nothing closes it then.
      part('name="dir\\"; filename="C:\\temp\\"'),
      '--b--',
    ].join('');
    expect(await show(parseMultipartFormData(encode(body), 'b'))).toEqual([
      ['f', ['a"b.txt', 'text/plain', 'v']],
      ['g', ['C:\\d\\f.txt', 'text/plain', 'v']],
      ['h', ['a\\b.txt', 'text/plain', 'v']],
      ['q"uote', 'v'],
      ['dir\\', ['C:\\temp\\', 'text/plain', 'v']],
    ]);
  });

  it('keeps each file\'s bytes to itself', () => {
    const body = encode('--b\r\nContent-Disposition: form-data; name="f"; filename="f"\r\n\r\nabc\r\n--b--');
    const [[, file]] = parseMultipartFormData(body, 'b') as [[string, File]];
    expect(file.size).toBe(3);
    body.fill(0);
    return expect(file.text()).resolves.toBe('abc');
  });

  it('refuses what does not parse, with a TypeError', () => {
    const part = 'Content-Disposition: form-data; name="a"\r\n\r\nv\r\n';
    const bodies = [
      ['', 'b'],
      ['--b--', ''],
      ['no boundary here', 'b'],
      [`--b\r\n${part}`, 'b'],
      [`--b\r\n${part}--b`, 'b'],
      [`--bx\r\n${part}--b--`, 'b'],
      // RFC 2046 §5.1.1: a line that starts with the boundary is a boundary line, whatever follows.
      [`--b\r\n${part}--bc\r\n--b--`, 'b'],
      ['--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--', 'b'],
      ['--b\r\nContent-Disposition: attachment; name="a"\r\n\r\nv\r\n--b--', 'b'],
      ['--b\r\nContent-Disposition: form-data; name="a\r\n\r\nv\r\n--b--', 'b'],
      ['--b\r\nContent-Disposition: form-data; name="a" x\r\n\r\nv\r\n--b--', 'b'],
      ['--b\r\nContent-Disposition: form-data; name="a"\nX: y\r\n\r\nv\r\n--b--', 'b'],
      ['--b\r\nContent-Disposition: form-data; name="a"\r\nno colon\r\n\r\nv\r\n--b--', 'b'],
      ['--b\r\nContent-Disposition: form-data; name="a"\r\nX: a\rb\r\n\r\nv\r\n--b--', 'b'],
      ['--b\r\n\r\nv\r\n--b--', 'b'],
      ['--b\r\nContent-Disposition: form-data; name="a"', 'b'],
    ];
    for (const [body, boundary] of bodies) {
      expect(() => parseMultipartFormData(encode(body!), boundary!), JSON.stringify(body)).toThrow(TypeError);
    }
  });
});
