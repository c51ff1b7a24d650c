// TextDecoder's legacy encodings inside an isolate, decoded by the host's TextDecoder: labels,
// single- and multi-byte encodings, streams split inside a character, fatal mode, and labels the
// Encoding standard maps to "replacement".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/index.ts';

let engine: Engine;

beforeAll(async () => {
  engine = new Engine();
  await engine.deploy('legacy', {
    code: `const attempt = (f) => { try { return f(); } catch (e) { return e.name + ': ' + e.message; } };
    export default { fetch: () => Response.json({
      latin1: [new TextDecoder('latin1').encoding, new TextDecoder('latin1').decode(new Uint8Array([0x80, 0xe9, 0x9f]))],
      sjis: new TextDecoder('shift_jis').decode(new Uint8Array([0x93, 0xfa, 0x96, 0x7b])),
      utf16be: new TextDecoder('utf-16be').decode(new Uint8Array([0x00, 0x61, 0x00, 0x62])),
      streamed: (() => {
        const d = new TextDecoder('gbk');
        // "中文" in GBK is d6 d0 ce c4: split inside the second character, then again mid-stream.
        return [d.decode(new Uint8Array([0xd6, 0xd0, 0xce]), { stream: true }), d.decode(new Uint8Array([0xc4])), d.decode(new Uint8Array([0xd6, 0xd0]))];
      })(),
      fatal: attempt(() => new TextDecoder('shift_jis', { fatal: true }).decode(new Uint8Array([0x82]))),
      lenient: new TextDecoder('shift_jis').decode(new Uint8Array([0x82])),
      view: new TextDecoder('windows-1251').decode(new Uint8Array([0x41, 0xc0, 0xc1, 0x42]).subarray(1, 3)),
      replacement: attempt(() => new TextDecoder('iso-2022-kr')),
      unknown: attempt(() => new TextDecoder('nope')),
      // 1 MB + 1 of GBK pairs: a pair straddles each 256 KB piece the host decodes at a time.
      big: (() => {
        const bytes = new Uint8Array(1024 * 1024 + 2);
        for (let i = 1; i + 1 < bytes.length; i += 2) { bytes[i] = 0xd6; bytes[i + 1] = 0xd0; }
        bytes[0] = 0x41;
        const text = new TextDecoder('gbk').decode(bytes);
        return [text.length, text[0], text[1], text.at(-1), new Set(text.slice(1)).size];
      })(),
    }) };`,
    // The test is about the text, not CPU: 1 MB through the host's decoder (charged to the tenant
    // by wall time) and a Set of half a million characters came to the default 50 ms on a loaded
    // machine, and a full suite saw cpu_limit_exceeded.
    limits: { cpuMs: 1_000 },
  });
});

afterAll(() => engine.close());

describe('TextDecoder, legacy encodings', () => {
  it('decode as the Encoding standard says, streams and fatal mode included', async () => {
    const got = await (await engine.fetch('legacy', new Request('http://l.test/'))).json();
    expect(got).toEqual({
      latin1: ['windows-1252', '€éŸ'],
      sjis: '日本',
      utf16be: 'ab',
      streamed: ['中', '文', '中'],
      fatal: expect.stringMatching(/^TypeError: .*not valid shift_jis/),
      lenient: '\ufffd',
      view: 'АБ',
      replacement: expect.stringMatching(/^RangeError/),
      unknown: expect.stringMatching(/^RangeError/),
      big: [1 + 524288 + 1, 'A', '中', '\u0000', 2],
    });
  });
});
