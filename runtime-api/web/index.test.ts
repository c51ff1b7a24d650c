// The folder's contract: these APIs run in a bare V8 context, with only the
// ECMAScript built-ins. Bundled as the runtime bundles it, then run in node:vm.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import * as web from './index.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

describe('runtime-api/web in a bare V8 context', () => {
  it('exports the public classes and the dispatcher hooks', () => {
    expect(Object.keys(web).sort()).toEqual(
      [
        'AbortController', 'AbortSignal', 'Blob', 'CustomEvent', 'DOMException', 'Event', 'EventTarget', 'File', 'FormData', 'Headers',
        'Request', 'Response', 'TextDecoder', 'TextEncoder', 'addAbortAlgorithm', 'atob', 'btoa', 'bodyToWire', 'headersFromFlat',
        'checkHeadSize', 'headersToFlat', 'requestFromWire', 'requestSignalSource', 'isResponse', 'responseFromNetwork', 'responseToWire', 'setEventClock', 'setHeadersGuard', 'setReportError',
        'structuredClone', 'ByteLengthQueuingStrategy', 'CountQueuingStrategy', 'ReadableByteStreamController', 'ReadableStream',
        'ReadableStreamBYOBReader', 'ReadableStreamBYOBRequest', 'ReadableStreamDefaultController', 'ReadableStreamDefaultReader',
        'TextDecoderStream', 'TextEncoderStream', 'TransformStream', 'TransformStreamDefaultController', 'WritableStream',
        'WritableStreamDefaultController', 'WritableStreamDefaultWriter', 'responseHasStreamBody', 'responseToWireStream', 'responseWebSocket',
      ].sort(),
    );
  });

  it('loads and serves a request with no Node or Web globals', async () => {
    // whatwg-url builds a TextEncoder and TextDecoder when it loads, so ours
    // must be global first; require() keeps that order in the bundle. The
    // neutral platform keeps @exodus/bytes (under whatwg-url) off its browser
    // build, which expects TextDecoder to know 'latin1'.
    const result = await build({
      stdin: {
        contents: `
          globalThis.TextEncoder = require('../encoding/text-encoder.ts').TextEncoder;
          globalThis.TextDecoder = require('../encoding/text-decoder.ts').TextDecoder;
          module.exports = require('./index.ts');`,
        resolveDir: here,
        loader: 'js',
      },
      bundle: true,
      write: false,
      format: 'iife',
      globalName: 'web',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      logLevel: 'silent',
    });
    const context = vm.createContext({});
    expect(vm.runInContext('typeof TextEncoder + typeof URL + typeof Headers + typeof structuredClone', context)).toBe(
      'undefinedundefinedundefinedundefined',
    );
    vm.runInContext(result.outputFiles[0]!.text, context);
    const answer = await (vm.runInContext(
      `(async () => {
        const { Headers, Request, Response, TextDecoder, atob, btoa, structuredClone, DOMException, requestFromWire, responseToWire } = web;
        const { AbortController, AbortSignal, CustomEvent, EventTarget, addAbortAlgorithm, setReportError } = web;
        const { Blob, FormData, ReadableStream, TextDecoderStream, TextEncoderStream, responseToWireStream } = web;
        // Streams in a bare context: text through the encoder and decoder streams, as a body, sent chunk by chunk.
        // The runtime installs ReadableStream; Blob.stream() looks it up when called.
        globalThis.ReadableStream = ReadableStream;
        let parts = ['str', 'eam\u20ac'];
        const text = new ReadableStream({ pull: (c) => (parts.length > 0 ? c.enqueue(parts.shift()) : c.close()) });
        const streamed = new Response(text.pipeThrough(new TextEncoderStream()));
        const echoed = await new Response(new Response(streamed.body).body.pipeThrough(new TextDecoderStream()).pipeThrough(new TextEncoderStream())).text();
        const [, , reader] = responseToWireStream(new Response(new Blob(['blob']).stream()));
        const wire = await reader.next();
        const end = await reader.next();
        // The runtime installs crypto; a multipart boundary looks it up when a body is made.
        globalThis.crypto = { getRandomValues: (array) => array.fill(7) };
        const form = new FormData();
        form.append('name', 'value');
        form.append('file', new Blob(['a', new Blob(['bytes'])]).slice(1, undefined, 'Text/Plain'), 'f.txt');
        const parsed = await new Response(form).formData();
        const file = parsed.get('file');
        const events = [];
        setReportError((e) => events.push('reported ' + e.message));
        const controller = new AbortController();
        const any = AbortSignal.any([controller.signal]);
        addAbortAlgorithm(any, () => events.push('algorithm'));
        any.onabort = (e) => events.push(e.type + ' ' + e.isTrusted + ' ' + any.reason);
        const target = new EventTarget();
        target.addEventListener('x', () => { throw new Error('boom'); });
        target.addEventListener('x', (e) => events.push(e.detail), { signal: any });
        target.dispatchEvent(new CustomEvent('x', { detail: 'heard' }));
        controller.abort('why');
        target.dispatchEvent(new CustomEvent('x', { detail: 'not heard' }));
        const request = requestFromWire('POST', 'https://x.test/a', ['Host', 'x.test'], new Uint8Array([0x7b, 0x7d]).buffer);
        const copy = new Request(request.url + '?q=1', { method: 'post', body: await request.text() });
        let cloneError;
        try { structuredClone(() => 1); } catch (e) { cloneError = e instanceof DOMException && e.name; }
        const response = Response.json({
          url: copy.url,
          body: await copy.json(),
          euro: new TextDecoder().decode(new Uint8Array([0xe2, 0x82, 0xac])),
          base64: atob(btoa('hi')),
          headers: [...new Headers({ B: '1', a: '2' })],
          cloneError,
          events,
          form: [parsed.get('name'), file.name, file.type, await file.text()],
          streams: [echoed, new TextDecoder().decode(wire), end],
        });
        return JSON.stringify(responseToWire(response));
      })()`,
      context,
    ) as Promise<string>);
    expect(JSON.parse(answer)).toEqual([
      200,
      ['content-type', 'application/json'],
      JSON.stringify({
        url: 'https://x.test/a?q=1',
        body: {},
        euro: '€',
        base64: 'hi',
        headers: [['a', '2'], ['b', '1']],
        cloneError: 'DataCloneError',
        events: ['reported boom', 'heard', 'algorithm', 'abort true why', 'reported boom'],
        form: ['value', 'f.txt', 'text/plain', 'bytes'],
        streams: ['stream€', 'blob', null],
      }),
    ]);
  });
});
