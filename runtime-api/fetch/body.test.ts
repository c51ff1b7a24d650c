import { URLSearchParams } from 'whatwg-url';
import { describe, expect, it } from 'vitest';
import { bodyToWire, extractBody, isURLSearchParams } from './body.ts';
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
    expect(() => Object.getOwnPropertyDescriptor(Response.prototype, 'bodyUsed')!.get!.call({})).toThrow(TypeError);
    for (const key of ['arrayBuffer', 'bytes', 'json', 'text', 'bodyUsed']) {
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
