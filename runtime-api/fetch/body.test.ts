import { URLSearchParams } from 'whatwg-url';
import { describe, expect, it } from 'vitest';
import { Blob, File } from '../web/blob.ts';
import { FormData } from '../web/form-data.ts';
import { bodyToWire, extractBody, isURLSearchParams } from './body.ts';
import { Headers } from './headers.ts';
import { Request } from './request.ts';
import { Response } from './response.ts';

async function read(r: Response | globalThis.Response): Promise<[string | null, number[]]> {
  return [r.headers.get('content-type'), [...new Uint8Array(await r.arrayBuffer())]];
}

describe('Body mixin', () => {
  it('extracts bodies with the types Node gives them', async () => {
    const buffer = new Uint8Array([1, 2, 3, 4, 5]).buffer;
    const shared = new SharedArrayBuffer(2);
    new Uint8Array(shared).set([9, 8]);
    const inits: unknown[] = [
      'héllo €', '', '\ud800x', '\ufeffbom', buffer, new Uint8Array(buffer, 1, 3), new DataView(buffer, 2), new Float32Array([1.5]),
      new globalThis.URLSearchParams('x=y z'), 42, true, { toString: () => 'custom' }, [1, 2], shared,
    ];
    for (const [i, init] of inits.entries()) {
      expect(await read(new Response(init as never)), `init ${i}`).toEqual(await read(new globalThis.Response(init as never)));
    }
    expect(() => new Response(Symbol() as never)).toThrow(TypeError);
  });

  it('refuses what BufferSource refuses (Node stringifies these)', () => {
    // No [AllowShared] or [AllowResizable] on Fetch's BufferSource (WebIDL buffer source types).
    expect(() => new Response(new Uint8Array(new SharedArrayBuffer(2)))).toThrow(TypeError);
    expect(() => new Response(new ArrayBuffer(2, { maxByteLength: 4 }))).toThrow(TypeError);
    expect(() => new Response(new DataView(new ArrayBuffer(2, { maxByteLength: 4 })))).toThrow(TypeError);
  });

  it('copies buffer sources when the body is made', async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const r = new Response(bytes);
    bytes[0] = 99;
    expect([...(await r.bytes())]).toEqual([1, 2, 3]);
  });

  it('reads text the way "UTF-8 decode" does', async () => {
    expect(await new Response('\ud800').text()).toBe('\ufffd');
    expect(await new Response('\ufeff\ufeffa').text()).toBe('\ufeffa');
    expect([...(await new Response('\ufeffa').bytes())]).toEqual([0xef, 0xbb, 0xbf, 0x61]);
    expect(await new Response(Uint8Array.of(0xef, 0xbb, 0xbf, 0xc3, 0xa9, 0xff)).text()).toBe('é\ufffd');
    expect(await new Response('{"a":[1]}').json()).toEqual({ a: [1] });
    expect(await new Response('\ufeff"x"').json()).toBe('x');
    await expect(new Response('{').json()).rejects.toThrow(SyntaxError);
  });

  it('can be read once; a null body can be read again', async () => {
    const r = new Response('abc');
    expect(r.bodyUsed).toBe(false);
    const text = r.text();
    expect(r.bodyUsed).toBe(true);
    expect(await text).toBe('abc');
    await expect(r.text()).rejects.toThrow(TypeError);
    await expect(r.arrayBuffer()).rejects.toThrow(TypeError);
    const empty = new Response(null);
    expect(await empty.text()).toBe('');
    expect(await empty.bytes()).toEqual(new Uint8Array(0));
    expect(empty.bodyUsed).toBe(false);
    await expect(empty.json()).rejects.toThrow(SyntaxError);
    const ab = await new Response('xy').arrayBuffer();
    expect(ab).toBeInstanceOf(ArrayBuffer);
    expect(ab.byteLength).toBe(2);
  });

  it('rejects instead of throwing for a wrong this, and has the WebIDL shape', async () => {
    await expect(Response.prototype.text.call({})).rejects.toThrow(TypeError);
    await expect(Response.prototype.blob.call({})).rejects.toThrow(TypeError);
    await expect(Request.prototype.formData.call(new Response('a=b'))).rejects.toThrow(TypeError);
    expect(() => Object.getOwnPropertyDescriptor(Response.prototype, 'bodyUsed')!.get!.call({})).toThrow(TypeError);
    for (const key of ['arrayBuffer', 'blob', 'bytes', 'formData', 'json', 'text', 'bodyUsed']) {
      expect(Object.getOwnPropertyDescriptor(Response.prototype, key)!.enumerable, key).toBe(true);
    }
    expect('body' in Response.prototype).toBe(false);
  });

  it('gives the wire the original string, or bytes the caller owns', () => {
    const text = 'a long string '.repeat(10);
    const string = extractBody(text, 'test').body;
    expect(bodyToWire(string)).toBe(text);
    expect(string.used).toBe(true);
    expect(() => bodyToWire(string)).toThrow(TypeError);
    const bytes = extractBody(new Uint8Array([1, 2, 3]).subarray(1), 'test').body;
    const wire = bodyToWire(bytes) as ArrayBuffer;
    expect([...new Uint8Array(wire)]).toEqual([2, 3]);
    expect(bodyToWire(null)).toBe(null);
    expect(bodyToWire(extractBody('\ud800', 'test').body)).toBe('\ufffd');
  });

  it('recognizes URLSearchParams by its tag', async () => {
    expect(isURLSearchParams(new URLSearchParams())).toBe(true);
    expect(isURLSearchParams(new globalThis.URLSearchParams())).toBe(true);
    expect(isURLSearchParams({})).toBe(false);
    // Node's Response does not know whatwg-url's class, so it is checked here.
    const form = new Response(new URLSearchParams('q=a b&r=é'));
    expect(form.headers.get('content-type')).toBe('application/x-www-form-urlencoded;charset=UTF-8');
    expect(await form.text()).toBe('q=a+b&r=%C3%A9');
  });
});

type AnyFormData = FormData | globalThis.FormData;

/** The entries with each File shown as [name, type, lastModified is a number, bytes]. */
async function showEntries(formData: AnyFormData): Promise<unknown[]> {
  const shown = [];
  for (const [name, value] of formData) {
    shown.push([name, typeof value === 'string' ? value : [value.name, value.type, typeof value.lastModified, [...(await value.bytes())]]]);
  }
  return shown;
}

/** A FormData of each kind with the same entries: unicode, newlines and quotes in names and values, binary files. */
function sameFormData<F extends AnyFormData>(formData: F, B: typeof Blob | typeof globalThis.Blob, FileClass: typeof File | typeof globalThis.File): F {
  const binary = new Uint8Array([0, 0x0d, 0x0a, 0x2d, 0x2d, 0xff, 0x0d]);
  formData.append('plain', 'value');
  formData.append('ünï "cödé"', '€ and\nnew\r\nlines');
  formData.append('plain', '');
  formData.append('file', new FileClass([binary], 'pic "1".png', { type: 'image/png' }) as never);
  formData.append('blob', new B(['{"a":1}'], { type: 'application/json' }) as never);
  formData.append('named', new B([]) as never, 'ë.txt');
  return formData;
}

describe('Blob and FormData bodies', () => {
  it('extracts a Blob with its type, as Node does', async () => {
    for (const type of ['text/plain', '', 'Application/JSON']) {
      const ours = new Response(new Blob(['blob ', new Uint8Array([0xff])], { type }));
      const node = new globalThis.Response(new globalThis.Blob(['blob ', new Uint8Array([0xff])], { type }));
      expect(await read(ours), type).toEqual(await read(node));
    }
    const typed = new Response(new Blob(['x'], { type: 'a/b' }), { headers: { 'content-type': 'c/d' } });
    expect(typed.headers.get('content-type')).toBe('c/d');
  });

  it('gives the wire an ArrayBuffer of its own for Blob and FormData bodies, and strings as they are', async () => {
    const blob = new Blob(['abc']);
    const wire = bodyToWire(extractBody(blob.slice(1), 'test').body) as ArrayBuffer;
    expect([...new Uint8Array(wire)]).toEqual([0x62, 0x63]);
    new Uint8Array(wire).fill(0);
    expect(await blob.text()).toBe('abc');
    const formData = new FormData();
    formData.append('a', 'b');
    expect(bodyToWire(extractBody(formData, 'test').body)).toBeInstanceOf(ArrayBuffer);
    expect(bodyToWire(extractBody('text', 'test').body)).toBe('text');
  });

  it('reads blob() with the body\'s MIME type, as Node does', async () => {
    const contentTypes: [string, string][][] = [
      [],
      [['content-type', 'Text/Plain; Charset=UTF-8']],
      [['content-type', 'text/html;charset=gbk'], ['content-type', 'text/html']],
      [['content-type', 'text/plain;a="b c"']],
      [['content-type', 'bogus']],
    ];
    for (const headers of contentTypes) {
      const ours = await new Response('body', { headers }).blob();
      const node = await new globalThis.Response('body', { headers }).blob();
      expect([ours.type, await ours.text()], JSON.stringify(headers)).toEqual([node.type, await node.text()]);
    }
    const request = new Request('https://x.test/', { method: 'POST', body: new Uint8Array([1, 2]), headers: { 'content-type': 'a/b' } });
    const blob = await request.blob();
    expect([blob, blob.type, [...(await blob.bytes())], request.bodyUsed]).toEqual([expect.any(Blob), 'a/b', [1, 2], true]);
    expect((await new Response(null).blob()).size).toBe(0);
  });

  it('reads formData() from application/x-www-form-urlencoded bodies, as Node does', async () => {
    for (const body of ['a=1&b=%C3%A9+x&a=2', '', '&&=&x', 'é=€']) {
      const headers = { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' };
      const ours = await new Response(body, { headers }).formData();
      const node = await new globalThis.Response(body, { headers }).formData();
      expect(await showEntries(ours), body).toEqual(await showEntries(node));
    }
    const fromParams = await new Response(new URLSearchParams('q=a b&r=é')).formData();
    expect([...fromParams]).toEqual([['q', 'a b'], ['r', 'é']]);
  });

  it('reads formData() from the multipart bodies Node writes', async () => {
    const node = new globalThis.Response(sameFormData(new globalThis.FormData(), globalThis.Blob, globalThis.File));
    const contentType = node.headers.get('content-type')!;
    const bytes = await node.arrayBuffer();
    const expected = await showEntries(await new globalThis.Response(bytes, { headers: { 'content-type': contentType } }).formData());
    const ours = await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
    expect(ours).toBeInstanceOf(FormData);
    expect(await showEntries(ours)).toEqual(expected);
    const request = new Request('https://x.test/', { method: 'POST', body: bytes, headers: { 'content-type': contentType } });
    expect(await showEntries(await request.formData())).toEqual(expected);
  });

  it('writes multipart bodies that it and Node read back as the same entries', async () => {
    const formData = sameFormData(new FormData(), Blob, File);
    const expected = await showEntries(sameFormData(new globalThis.FormData(), globalThis.Blob, globalThis.File));
    // HTML's encoding writes newlines in names and string values as CRLF, and a file without a type as application/octet-stream.
    expected[1] = ['ünï "cödé"', '€ and\r\nnew\r\nlines'];
    expected[5] = ['named', ['ë.txt', 'application/octet-stream', 'number', []]];
    const response = new Response(formData);
    expect(response.headers.get('content-type')).toMatch(/^multipart\/form-data; boundary=----islet-formdata-[0-9a-f]{32}$/);
    const copy = response.clone();
    expect(await showEntries(await response.formData())).toEqual(expected);
    const bytes = await copy.arrayBuffer();
    const node = new globalThis.Response(bytes, { headers: { 'content-type': copy.headers.get('content-type')! } });
    expect(await showEntries(await node.formData())).toEqual(expected);
  });

  it('rejects formData() for other bodies with a TypeError, once it has read them', async () => {
    const cases: [string, string | null][] = [
      ['a=b', 'text/plain'],
      ['a=b', null],
      ['--b--', 'multipart/form-data'],
      ['not multipart', 'multipart/form-data; boundary=b'],
    ];
    for (const [body, type] of cases) {
      const response = new Response(body, { headers: type === null ? {} : { 'content-type': type } });
      if (type === null) response.headers.delete('content-type');
      await expect(response.formData(), String(type)).rejects.toThrow(TypeError);
      expect(response.bodyUsed).toBe(true);
    }
  });

  it('reads the header list, whatever headers or Headers.prototype.get become', async () => {
    const response = new Response('a=b', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    Object.defineProperty(response, 'headers', { value: new Headers({ 'content-type': 'text/plain' }) });
    const { get } = Headers.prototype;
    Headers.prototype.get = () => 'text/plain';
    try {
      expect([...(await response.formData())]).toEqual([['a', 'b']]);
    } finally {
      Headers.prototype.get = get;
    }
  });
});
