// The runtime every isolate boots with. Evaluating this script only defines things: the Web API
// globals tenants see, and one hidden entry object the host picks up, calls `init` on, and
// removes from the global scope before any tenant code runs.
import './encoding-globals.ts';
import { URL, URLSearchParams } from 'whatwg-url';
import urlStateMachine from 'whatwg-url/lib/url-state-machine.js';
import urlencoded from 'whatwg-url/lib/urlencoded.js';
import { installFastURLParse } from './url/fast-parse.ts';
import { installFastUrlencoded } from './url/fast-urlencoded.ts';
import {
  AbortController, AbortSignal, Blob, ByteLengthQueuingStrategy, CountQueuingStrategy, CustomEvent, DOMException, Event,
  EventTarget, File, FormData, Headers, isResponse, ReadableByteStreamController, ReadableStream, ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest, ReadableStreamDefaultController, ReadableStreamDefaultReader, Request, Response, TextDecoder,
  TextDecoderStream, TextEncoder, TextEncoderStream, TransformStream, TransformStreamDefaultController, WritableStream,
  WritableStreamDefaultController, WritableStreamDefaultWriter, atob, btoa, setReportError, structuredClone,
} from './web/index.ts';
import { console } from './host/console.ts';
import { crypto, Crypto } from './host/crypto.ts';
import { CryptoKey } from './host/crypto-key.ts';
import { settleCrypto, SubtleCrypto } from './host/subtle-crypto.ts';
import { fetch, setOutboundSockets, settleFetch } from './host/outbound-fetch.ts';
import { setBytesToHostBound } from './host/bytes-to-host.ts';
import { Performance, performance, resetPerformanceClock } from './host/performance.ts';
import { Scheduler, scheduler } from './host/scheduler.ts';
import { host, setHostCalls, type HostCalls } from './host/host-calls.ts';
import { findSharedArrayBuffer, markPlatformInterface, nullProto, viewBufferSource } from './webidl/index.ts';
import { declareStreamLength } from './web/streams.ts';
import type { IdentityStreams } from './web/identity-streams.ts';
import { eventInterfaces } from './web/event-interfaces.ts';
import { defineCompressionStreams } from './compression/compression-streams.ts';
import {
  clearInterval, clearTimeout, fireDueTimer, queueMicrotask, reportError, setInterval, setMaxTimers, setTimeout,
} from './host/timers.ts';
import { globalScope } from './dispatch/global-scope.ts';
import { answersOf, dispatchBatch, exposeEnv, forgetAnswers, runScheduled, ScheduledController, serviceWorker, setTenant, warmDispatch } from './dispatch/dispatch.ts';
import { ExecutionContext } from './dispatch/execution-context.ts';
import { abortRequest } from './dispatch/client-signal.ts';
import { cancelResponseStream, pullResponseStream } from './dispatch/response-stream.ts';
import { settleRequestChunk } from './dispatch/request-stream.ts';
import { settleAi } from './bindings/ai.ts';
import { defineIsolateWebSockets, socketEvent } from './host/websocket.ts';
import { confineWebAssembly } from './host/webassembly.ts';
import { collectGarbageNow } from './host/collect-garbage.ts';
import { attributeV8Tasks, chainDepth, enterChain, UNKNOWN_DEPTH } from './dispatch/chain-depth.ts';
import { forbidAtomicsWait } from './web/atomics-wait.ts';
import { installUint8ArrayBase64 } from './web/uint8-base64.ts';
import { defineGlobalInterfaces, Navigator, ServiceWorkerGlobalScope, WorkerGlobalScope } from './web/global-interfaces.ts';
// Eagerly: it takes eval while no tenant code has run.
import { isolateHTMLRewriter } from './html/isolate-html-rewriter.ts';

const globals: Record<string, unknown> = {
  URL, URLSearchParams, DOMException, Headers, Request, Response, TextDecoder, TextEncoder,
  atob, btoa, structuredClone, console, crypto, Crypto, setTimeout, clearTimeout, setInterval,
  clearInterval, queueMicrotask, reportError: globalScope.reportError, ExecutionContext, fetch, Event, EventTarget, CustomEvent,
  AbortController, AbortSignal, Blob, File, FormData, performance, Performance, ScheduledController,
  SubtleCrypto, CryptoKey, ReadableStream, ReadableStreamDefaultReader, ReadableStreamBYOBReader, ReadableStreamBYOBRequest,
  ReadableStreamDefaultController, ReadableByteStreamController, WritableStream, WritableStreamDefaultWriter,
  WritableStreamDefaultController, TransformStream, TransformStreamDefaultController, ByteLengthQueuingStrategy,
  CountQueuingStrategy, TextEncoderStream, TextDecoderStream, scheduler,
  // Workers' service-worker syntax (dispatch/service-worker.ts).
  addEventListener: serviceWorker.addEventListener, removeEventListener: serviceWorker.removeEventListener,
  dispatchEvent: globalScope.dispatchEvent,
  FetchEvent: serviceWorker.FetchEvent, ScheduledEvent: serviceWorker.ScheduledEvent,
  WorkerGlobalScope, ServiceWorkerGlobalScope, Navigator,
};

attributeV8Tasks(globalThis);
forbidAtomicsWait(globalThis);
installUint8ArrayBase64();
// `new URL(request.url)` and its kind skip whatwg-url's state machine (url/fast-parse.ts), and
// a query without percent-escapes its byte-level urlencoded parser (url/fast-urlencoded.ts).
installFastURLParse(urlStateMachine);
installFastUrlencoded(urlencoded);

// Interfaces not made with defineInterface hold their state in slots all the same: structuredClone
// must refuse their objects (workerd does, for CryptoKey too), not copy their own properties.
for (const cls of [URL, URLSearchParams, Crypto, CryptoKey, SubtleCrypto, Performance, ExecutionContext, ScheduledController, Scheduler, Navigator as never,
  ServiceWorkerGlobalScope as never]) {
  markPlatformInterface(cls);
}

// An exception in an event listener is reported like any uncaught error: to the host log. Not to
// the global 'error' listeners: workerd fires them for reportError() alone, and one that throws
// would report again.
setReportError(reportError);

// Interfaces few functions use, evaluated on first access rather than in every isolate. esbuild
// bundles a require()d module as a function that runs on its first call, so until then an isolate
// holds only its source (README, "Where an idle hello tenant's memory goes").
const lazyGlobals: Record<string, () => unknown> = {
  URLPattern: () => {
    const { URLPattern } = require('./url/url-pattern') as typeof import('./url/url-pattern.ts');
    markPlatformInterface(URLPattern);
    return URLPattern;
  },
  ErrorEvent: () => eventInterfaces().ErrorEvent,
  PromiseRejectionEvent: () => eventInterfaces().PromiseRejectionEvent,
  MessageEvent: () => eventInterfaces().MessageEvent,
  CloseEvent: () => eventInterfaces().CloseEvent,
  CompressionStream: () => compressionStreams().CompressionStream,
  DecompressionStream: () => compressionStreams().DecompressionStream,
  IdentityTransformStream: () => identityStreams().IdentityTransformStream,
  FixedLengthStream: () => identityStreams().FixedLengthStream,
  caches: () => cacheApi().caches,
  Cache: () => cacheApi().Cache,
  CacheStorage: () => cacheApi().CacheStorage,
  WebSocket: () => webSockets().WebSocket,
  WebSocketPair: () => webSockets().WebSocketPair,
  HTMLRewriter: () => {
    const HTMLRewriter = isolateHTMLRewriter({
      // The ponyfills' classes, typed apart from the lib's they implement.
      Response: Response as unknown as typeof globalThis.Response,
      Headers: Headers as unknown as typeof globalThis.Headers,
      ReadableStream: ReadableStream as unknown as typeof globalThis.ReadableStream,
      isResponse: isResponse as unknown as (value: unknown) => value is globalThis.Response,
      chainDepth,
      enterChain,
    }) as abstract new () => unknown;
    markPlatformInterface(HTMLRewriter);
    return HTMLRewriter;
  },
};

function webSockets(): ReturnType<typeof defineIsolateWebSockets> {
  return defineIsolateWebSockets(eventInterfaces() as never);
}
// A fetch() with Upgrade: websocket answers with one of them.
setOutboundSockets(webSockets);

let cacheModule: typeof import('./host/cache-storage.ts') | undefined;
function cacheApi(): typeof import('./host/cache-storage.ts') {
  if (cacheModule === undefined) {
    cacheModule = require('./host/cache-storage') as typeof import('./host/cache-storage.ts');
    markPlatformInterface(cacheModule.Cache);
    markPlatformInterface(cacheModule.CacheStorage);
  }
  return cacheModule;
}

let compression: ReturnType<typeof defineCompressionStreams> | undefined;
function compressionStreams(): ReturnType<typeof defineCompressionStreams> {
  // The codecs and fflate are require()d, so evaluated when the first stream is made.
  compression ??= defineCompressionStreams(() => require('./compression/codecs') as typeof import('./compression/codecs.ts'));
  return compression;
}

let identity: IdentityStreams | undefined;
function identityStreams(): IdentityStreams {
  if (identity === undefined) {
    const { defineIdentityStreams } = require('./web/identity-streams') as typeof import('./web/identity-streams.ts');
    // The ponyfill's classes, typed apart from the lib's they implement.
    identity = defineIdentityStreams(
      TransformStream as unknown as typeof globalThis.TransformStream,
      (chunk) => viewBufferSource(chunk, false, 'The written chunk'),
      declareStreamLength as unknown as (readable: globalThis.ReadableStream<Uint8Array>, length: number) => void,
    );
  }
  return identity;
}

/**
 * The bundle keeps source names but changes a few (whatwg-url's URL becomes URL5, a class that
 * names itself in its body _Request): an interface's name is its own. Only those few get `name`
 * redefined; an alias (clearInterval is clearTimeout) keeps the name it has.
 */
function named(name: string, value: unknown): unknown {
  if (typeof value === 'function' && value.name !== name && globals[value.name] !== value) {
    Object.defineProperty(value, 'name', nullProto({ value: name, configurable: true }));
  }
  return value;
}

// Web APIs are writable, configurable, non-enumerable properties of the global object (WebIDL).
// A lazy global is defined on first use, after tenant code ran (webidl/null-prototype.ts).
function defineGlobal(name: string, value: unknown): void {
  Object.defineProperty(globalThis, name, nullProto({ value, writable: true, configurable: true, enumerable: false }));
}

for (const [name, value] of Object.entries(globals)) defineGlobal(name, named(name, value));
// A lazy global is an accessor until first read or written, then the data property it would have been.
for (const [name, load] of Object.entries(lazyGlobals)) {
  Object.defineProperty(globalThis, name, nullProto({
    get: () => {
      const value = named(name, load());
      defineGlobal(name, value);
      return value;
    },
    set: (value: unknown) => defineGlobal(name, value),
    configurable: true,
    enumerable: false,
  }));
}
Object.defineProperty(globalThis, 'self', nullProto({ value: globalThis, writable: true, configurable: true, enumerable: false }));
// As workerd has it (web/global-interfaces.ts): libraries tell the runtime by the user agent (Hono's
// getRuntimeKey, and with it hono/adapter's env(c), which read nothing on "islet"), and a worker
// from a browser or Node by the global object's interfaces.
defineGlobal('navigator', defineGlobalInterfaces(EventTarget.prototype));

/** The host's idle collection (IsolateSandbox.reclaim): gives the isolate's idle pages back. */
function collectGarbage(): void {
  // The last batch's answers are kept until the next batch (dispatch.ts); an idle isolate has
  // none in flight, and the bodies in them are what this collection is for.
  forgetAnswers();
  collectGarbageNow();
}

const entry = {
  // Positional, because isolated-vm transfers Callbacks as arguments but not inside objects.
  init(
    log: HostCalls['log'], randomBytes: HostCalls['randomBytes'], setTimer: HostCalls['setTimer'],
    clearTimer: HostCalls['clearTimer'], respond: HostCalls['respond'], taskDone: HostCalls['taskDone'],
    domainToASCII: HostCalls['domainToASCII'], startFetch: HostCalls['startFetch'], abortFetch: HostCalls['abortFetch'],
    digest: HostCalls['digest'], startCrypto: HostCalls['startCrypto'], streamChunk: HostCalls['streamChunk'],
    pullRequestBody: HostCalls['pullRequestBody'], cancelRequestBody: HostCalls['cancelRequestBody'], aiRun: HostCalls['aiRun'],
    aiAbort: HostCalls['aiAbort'], encodingOf: HostCalls['encodingOf'], decodeLegacy: HostCalls['decodeLegacy'], cacheOp: HostCalls['cacheOp'],
    wsSend: HostCalls['wsSend'], wsClose: HostCalls['wsClose'], wsConnect: HostCalls['wsConnect'], wsAccept: HostCalls['wsAccept'],
    htmlRewriterGlue: HostCalls['htmlRewriterGlue'],
    htmlRewriterReady: HostCalls['htmlRewriterReady'], maxTimers: number, memoryLimitMb: number,
  ): void {
    setHostCalls({
      log, randomBytes, setTimer, clearTimer, respond, taskDone, domainToASCII, startFetch, abortFetch, digest, startCrypto, streamChunk,
      pullRequestBody, cancelRequestBody, aiRun, aiAbort, encodingOf, decodeLegacy, cacheOp, wsSend, wsClose, wsConnect, wsAccept, htmlRewriterGlue,
      htmlRewriterReady,
    });
    setMaxTimers(maxTimers);
    confineWebAssembly(memoryLimitMb * 1048576);
    setBytesToHostBound(memoryLimitMb * 524288);
    resetPerformanceClock();
    findSharedArrayBuffer();
    delete (globalThis as Record<string, unknown>).__islet_runtime;
  },
  // The module's top level ran before this, between calls: at UNKNOWN, left by the call before.
  setTenant: unattributed(setTenant),
  dispatchBatch,
  answersOf: unattributed(answersOf),
  fireDueTimer,
  settleFetch,
  settleCrypto,
  pullResponseStream,
  cancelResponseStream,
  abortRequest,
  settleRequestChunk,
  runScheduled,
  settleAi,
  // Only a tenant that used the Cache API has calls to settle: the module is loaded by then.
  settleCache: (id: number, ok: boolean, value: unknown) => cacheApi().settleCache(id, ok, value),
  // A socket's events belong to no request the runtime can name.
  socketEvent: unattributed(socketEvent),
  warmup: warmDispatch,
  collectGarbage: unattributed(collectGarbage),
  exposeBindings: unattributed(exposeEnv),
};

/**
 * An entry that does no request's work: what runs in it (and what it starts) is charged as the
 * runtime cannot name (dispatch/chain-depth.ts), never at a depth an earlier call left behind.
 */
function unattributed<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    enterChain(UNKNOWN_DEPTH);
    return fn(...args);
  };
}

Object.defineProperty(globalThis, '__islet_runtime', nullProto({ value: entry, configurable: true, enumerable: false }));
