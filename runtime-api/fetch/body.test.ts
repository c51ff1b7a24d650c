import { URLSearchParams } from 'whatwg-url';
import { describe, expect, it } from 'vitest';
import { Blob, File } from '../web/blob.ts';
import { FormData } from '../web/form-data.ts';
import { bodyToWire, extractBody, isURLSearchParams } from './body.ts';
import { Headers } from './headers.ts';
import { Request } from './request.ts';
import { Response, responseHasStreamBody, responseToWire, responseToWireStream } from './response.ts';
import { ReadableStream } from '../web/streams.ts';

/** A ponyfill stream of the given chunks, which it enqueues one per pull. */
function streamOf(...chunks: unknown[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (chunks.length === 0) controller.close();
      else controller.enqueue(chunks.shift() as Uint8Array);
    },
  });
}

const encode = (s: string): Uint8Array => new TextEncoder().encode(s);

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += new TextDecoder().decode(chunk, { stream: true });
  return text;
}

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
    expect(() => Object.getOwnPropertyDescriptor(Response.prototype, 'body')!.get!.call({})).toThrow(TypeError);
    for (const key of ['arrayBuffer', 'blob', 'body', 'bytes', 'formData', 'json', 'text', 'bodyUsed']) {
      expect(Object.getOwnPropertyDescriptor(Response.prototype, key)!.enumerable, key).toBe(true);
    }
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

  it('reads blob() with the body\'s MIME type serialized, parameter values as written (workerd; Node lower-cases them)', async () => {
    const contentTypes: [[string, string][], string][] = [
      [[], 'text/plain;charset=UTF-8'],
      [[['content-type', 'Text/Plain; Charset=UTF-8']], 'text/plain;charset=UTF-8'],
      [[['content-type', 'text/html;charset=gbk'], ['content-type', 'text/html']], 'text/html;charset=gbk'],
      [[['content-type', 'text/plain;a="b c"']], 'text/plain;a="b c"'],
      [[['content-type', 'bogus']], ''],
    ];
    for (const [headers, type] of contentTypes) {
      const ours = await new Response('body', { headers }).blob();
      const node = await new globalThis.Response('body', { headers }).blob();
      expect([ours.type, await ours.text()], JSON.stringify(headers)).toEqual([type, await node.text()]);
      expect(ours.type.toLowerCase()).toBe(node.type);
    }
    // A browser's multipart boundary is mixed case: lower-cased, the blob no longer described its
    // own bytes, and neither formData() of it nor a subrequest sending it could find its parts.
    const boundary = '----WebKitFormBoundaryAbCdEf0123';
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--${boundary}--\r\n`;
    const multipart = await new Request('https://x.test/', { method: 'POST', body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }).blob();
    expect(multipart.type).toBe(`multipart/form-data;boundary=${boundary}`);
    expect((await new Response(multipart).formData()).get('a')).toBe('1');
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

describe('Body mixin with streams', () => {
  it('reads a ReadableStream body with every reader, and gives it no Content-Type', async () => {
    const euro = encode('€');
    expect(await new Response(streamOf(encode('a'), euro.subarray(0, 1), euro.subarray(1))).text()).toBe('a€');
    expect(await new Response(streamOf(encode('{"a":'), encode('[1]}'))).json()).toEqual({ a: [1] });
    expect([...new Uint8Array(await new Response(streamOf(Uint8Array.of(1), Uint8Array.of(2, 3))).arrayBuffer())]).toEqual([1, 2, 3]);
    expect([...(await new Response(streamOf()).bytes())]).toEqual([]);
    const typed = new Response(streamOf(encode('x=1')), { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect((await typed.clone().formData()).get('x')).toBe('1');
    expect(await (await typed.blob()).text()).toBe('x=1');
    expect(new Response(streamOf()).headers.get('content-type')).toBe(null);
    const request = new Request('https://x.test/', { method: 'POST', body: streamOf(encode('req')) });
    expect(request.headers.get('content-type')).toBe(null);
    expect(await request.text()).toBe('req');
  });

  it('reads chunks that are any ArrayBuffer or view, as workerd does; rejects others, and a stream that errors', async () => {
    const ab = encode('ab');
    expect(await new Response(streamOf(ab.buffer, new DataView(encode('cd').buffer), new Uint16Array([0x6665]))).text()).toBe('abcdef');
    expect(await new Request('https://x.test/', { method: 'POST', body: streamOf(ab.subarray(1)) }).text()).toBe('b');
    expect((await new Response(streamOf(ab.buffer)).blob()).size).toBe(2);
    // A string is not bytes to read (workerd: "This ReadableStream did not return bytes"), though
    // a response body made of them is sent as UTF-8.
    await expect(new Response(streamOf('text')).text()).rejects.toThrow(TypeError);
    await expect(new Response(streamOf(42)).arrayBuffer()).rejects.toThrow(TypeError);
    const failing = new ReadableStream({ pull: (controller) => controller.error(new RangeError('boom')) });
    await expect(new Response(failing).text()).rejects.toThrow(RangeError);
  });

  it('refuses a locked or disturbed stream, and rejects reads of a stream the tenant locked', async () => {
    const locked = streamOf();
    locked.getReader();
    expect(() => new Response(locked)).toThrow(TypeError);
    const disturbed = streamOf();
    await disturbed.cancel();
    expect(() => new Request('https://x.test/', { method: 'POST', body: disturbed })).toThrow(TypeError);
    const response = new Response(streamOf(encode('a')));
    const reader = response.body!.getReader();
    expect(response.bodyUsed).toBe(false);
    await expect(response.text()).rejects.toThrow(/locked/);
    expect((await reader.read()).value).toEqual(encode('a'));
    expect(response.bodyUsed).toBe(true);
    await expect(response.text()).rejects.toThrow(TypeError);
    expect(() => response.clone()).toThrow(TypeError);
  });

  it('makes the body getter\'s stream once, over the bytes, and reading it uses the body', async () => {
    expect(new Response(null).body).toBe(null);
    expect(new Response().body).toBe(null);
    const response = new Response('héllo');
    const stream = response.body!;
    expect(stream).toBeInstanceOf(ReadableStream);
    expect(response.body).toBe(stream);
    expect(response.bodyUsed).toBe(false);
    const text = readAll(stream);
    expect(response.bodyUsed).toBe(true);
    expect(await text).toBe('héllo');
    await expect(response.text()).rejects.toThrow(TypeError);
    // Round trip: one body's stream as another's.
    expect(await new Response(new Response(Uint8Array.of(0xe2, 0x82, 0xac)).body).text()).toBe('€');
    const given = streamOf(encode('same'));
    expect(new Response(given).body).toBe(given);
  });

  it('leaves the stream locked and disturbed after a reader took the bytes', async () => {
    const response = new Response('abc');
    const stream = response.body!;
    expect(await response.text()).toBe('abc');
    expect(stream.locked).toBe(true);
    const read = new Response('def');
    expect(await read.text()).toBe('def');
    expect(read.body!.locked).toBe(true);
    expect(read.bodyUsed).toBe(true);
  });

  it('makes byte streams, so a BYOB reader reads the body into its own buffer', async () => {
    /** Reads with a BYOB reader, `size` bytes at a time, into buffers it hands back each time. */
    async function readByob(stream: ReadableStream<Uint8Array>, size: number): Promise<number[]> {
      const reader = stream.getReader({ mode: 'byob' });
      const out: number[] = [];
      let buffer = new ArrayBuffer(size);
      for (;;) {
        const { done, value } = await reader.read(new Uint8Array(buffer));
        if (done) return out;
        out.push(...value);
        buffer = value.buffer;
      }
    }
    const bytes = [...encode('hello, byte stream')];
    expect(await readByob(new Response('hello, byte stream').body!, 4)).toEqual(bytes);
    const response = new Response(Uint8Array.from(bytes));
    const clone = response.clone();
    void response.body;
    const teed = response.clone(); // a tee of the made stream: both sides are byte streams too
    expect(await readByob(response.body!, 5)).toEqual(bytes);
    expect(await readByob(teed.body!, 7)).toEqual(bytes);
    expect(await readByob(clone.body!, 100)).toEqual(bytes);
    expect(await readByob(new Request('https://x.test/', { method: 'POST', body: 'hello, byte stream' }).body!, 3)).toEqual(bytes);
    expect(await readByob(new Blob(['hello, ', 'byte stream']).stream() as ReadableStream<Uint8Array>, 6)).toEqual(bytes);
    // An empty body: a BYOB read waiting when the stream closes is answered done, not left waiting.
    expect(await readByob(new Response('').body!, 4)).toEqual([]);
    // A used body's stream is one too, locked as reading left it.
    const used = new Response('x');
    await used.text();
    expect(() => used.body!.getReader({ mode: 'byob' })).toThrow(TypeError);
    // A stream the tenant made keeps the type it was made with.
    expect(() => new Response(streamOf(encode('a'))).body!.getReader({ mode: 'byob' })).toThrow(TypeError);
  });

  it('tees a stream body on clone, and each side reads all of it', async () => {
    const response = new Response(streamOf(encode('a'), encode('b')));
    const before = response.body;
    const clone = response.clone();
    expect(response.body).not.toBe(before);
    expect(before!.locked).toBe(true);
    expect(await clone.text()).toBe('ab');
    expect(await response.text()).toBe('ab');
    const made = new Response('xy');
    void made.body;
    const madeClone = made.clone();
    expect([await made.text(), await madeClone.text()]).toEqual(['xy', 'xy']);
    const request = new Request('https://x.test/', { method: 'PUT', body: streamOf(encode('r')) });
    expect(await request.clone().text()).toBe('r');
    expect(await request.text()).toBe('r');
  });

  it('moves a stream body into a Request made from another, which is then used', async () => {
    const input = new Request('https://x.test/', { method: 'POST', body: streamOf(encode('moved')) });
    const copy = new Request(input);
    expect(input.bodyUsed).toBe(true);
    expect(await copy.text()).toBe('moved');
    const fromSource = new Request('https://x.test/', { method: 'POST', body: 'src' });
    void fromSource.body;
    const copied = new Request(fromSource);
    expect(fromSource.bodyUsed).toBe(true);
    expect(await copied.text()).toBe('src');
  });

  it('sends a stream body chunk by chunk, cutting partial views out of their buffers, and only through the stream path', async () => {
    const whole = encode('wi');
    const part = encode('.re.').subarray(1, 3);
    const streamed = new Response(streamOf(whole, part), { status: 201, headers: { 'x-a': '1' } });
    expect(responseHasStreamBody(streamed)).toBe(true);
    expect(() => responseToWire(streamed)).toThrow(/chunk by chunk/);
    const [status, headers, reader] = responseToWireStream(streamed);
    expect([status, headers]).toEqual([201, ['x-a', '1']]);
    const first = await reader.next();
    const second = await reader.next();
    expect(first).toBe(whole.buffer);
    expect(second!.byteLength).toBe(2);
    expect([first, second].map((b) => new TextDecoder().decode(b!))).toEqual(['wi', 're']);
    expect(await reader.next()).toBe(null);
    expect(streamed.bodyUsed).toBe(true);
    expect(() => responseToWireStream(streamed)).toThrow(TypeError);
    // A stream the getter made but nobody read still goes as its source.
    const plain = new Response('as is');
    void plain.body;
    expect(responseHasStreamBody(plain)).toBe(false);
    expect(responseToWire(plain)).toEqual([200, ['content-type', 'text/plain;charset=UTF-8'], 'as is']);
    expect(plain.body!.locked).toBe(true);
    const [, , numbers] = responseToWireStream(new Response(streamOf(5)));
    await expect(numbers.next()).rejects.toThrow(TypeError);
    expect(bodyToWire(null)).toBe(null);
  });
});
