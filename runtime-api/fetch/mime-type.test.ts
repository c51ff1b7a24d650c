import { MIMEType } from 'node:util';
import { describe, expect, it } from 'vitest';
import { essence, extractMimeType, parseMimeType, serializeMimeType } from './mime-type.ts';

function nodeSerialization(input: string): string | null {
  try {
    return new MIMEType(input).toString();
  } catch {
    return null;
  }
}

describe('MIME types', () => {
  it('parse and serialize as Node\'s MIMEType does', () => {
    const inputs = [
      'text/html;charset=gbk', ' TEXT/HTML ; CHARSET=GBK ; x', 'text/html;charset="gbk"', 'text/html;charset="g\\"b\\\\k',
      'text/html;charset=', 'text/html;charset=""', 'text/html;a=b;a=c', 'text/html;;;a=b', 'text/html;a=é', 'text/html;a=€',
      '/html', 'text/', 'te xt/html', 'text/html;=x', 'text/html;a="x" junk;b=y', 'x/y;a="\\', '\n\ttext/plain\r ', 'text/plain;a=b c ',
      'multipart/form-data; boundary="--a b"', '*/*', 'text/plain;a', 'text/plain;a=b;', '',
    ];
    for (const input of inputs) {
      const parsed = parseMimeType(input);
      expect(parsed === null ? null : serializeMimeType(parsed), JSON.stringify(input)).toBe(nodeSerialization(input));
    }
    const parsed = parseMimeType('Multipart/Form-Data; Boundary="a\\"b"')!;
    expect([essence(parsed), parsed.parameters.get('boundary')]).toEqual(['multipart/form-data', 'a"b']);
  });

  it('are extracted from a Content-Type value as Fetch says', () => {
    const cases: [string | null, string | null][] = [
      [null, null],
      ['', null],
      ['text/plain', 'text/plain'],
      ['text/plain, */*', 'text/plain'],
      ['text/html;charset=gbk, text/plain, text/html', 'text/html'],
      ['text/plain;x=",y"', 'text/plain;x=",y"'],
      ['text/html;charset=gbk, text/html;charset=utf-8, text/html', 'text/html;charset=gbk'],
      ['text/html;charset=gbk, bogus, text/html', 'text/html;charset=gbk'],
      ['multipart/form-data; boundary="a,b"', 'multipart/form-data;boundary="a,b"'],
      ['bogus', null],
    ];
    for (const [value, expected] of cases) {
      const mimeType = extractMimeType(value);
      expect(mimeType === null ? null : serializeMimeType(mimeType), JSON.stringify(value)).toBe(expected);
    }
  });
});
