// data: URLs against Node's fetch (undici implements the Fetch standard's data: URL processor):
// the same MIME type and bytes, and failure for the same URLs.
import { describe, expect, it } from 'vitest';
import { processDataUrl } from './data-url.ts';
import { Engine } from '../../engine/index.ts';

const URLS = [
  'data:,Hello%2C%20World!',
  'data:text/plain;base64,SGVsbG8sIFdvcmxkIQ==',
  'data:text/html,%3Ch1%3EHello%3C%2Fh1%3E',
  'data:;base64,AAEC/w==',
  'data:;charset=utf-8,%C3%A9',
  'data:application/json;charset=UTF-8,%7B%22a%22%3A1%7D',
  'data:text/plain;charset=iso-8859-1;base64,6Q==',
  'data:text/plain;BASE64  ,QQ',
  'data:text/plain ;base64,QQ==',
  'data:image/png;base64,iVBORw0KGgo=',
  'data:nonsense,x',
  'data:text/plain;a="b,c",d',
  'data:,a#fragment',
  'data:,',
  'data:;base64,QQ%3D%3D',
  'data:;base64,%',
  'data:;base64,QQ=x',
  'data:text/plain',
];

async function byNode(url: string) {
  try {
    const res = await fetch(url);
    return { mimeType: res.headers.get('content-type'), body: [...new Uint8Array(await res.arrayBuffer())] };
  } catch {
    return null;
  }
}

describe('data: URLs', () => {
  it('give the MIME type and bytes Node\'s fetch gives, and fail where it fails', async () => {
    for (const url of URLS) {
      const ours = processDataUrl(new URL(url).href);
      expect(ours && { mimeType: ours.mimeType, body: [...ours.body] }, url).toEqual(await byNode(url));
    }
  });

  it('are answered by fetch() in the isolate, with no subrequest', async () => {
    const engine = new Engine();
    try {
      await engine.deploy('data', {
        code: `export default { async fetch() {
          const ok = await fetch('data:text/plain;base64,aMOp');
          let bad;
          try { await fetch('data:;base64,%'); } catch (e) { bad = e.name; }
          const head = await fetch('data:,abc', { method: 'HEAD' });
          return Response.json({ status: ok.status, type: ok.headers.get('content-type'), text: await ok.text(), url: ok.url, bad, head: await head.text() });
        } }`,
        limits: { maxSubrequests: 0 },
      });
      const got = await (await engine.fetch('data', new Request('http://data.test/'))).json();
      expect(got).toEqual({ status: 200, type: 'text/plain', text: 'hé', url: 'data:text/plain;base64,aMOp', bad: 'TypeError', head: '' });
    } finally {
      await engine.close();
    }
  });
});
