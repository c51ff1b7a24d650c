// The Web APIs runtime-api gives tenants, and the few module functions the
// dispatcher uses to move requests and responses across the isolate boundary.
export { DOMException } from './dom-exception.ts';
export {
  CustomEvent, Event, EventTarget, setEventClock, setReportError,
  type AddEventListenerOptions, type CustomEventInit, type EventInit, type EventListenerOptions, type EventListenerOrEventListenerObject,
} from './event.ts';
export { AbortController, AbortSignal, addAbortAlgorithm } from './abort.ts';
export { atob, btoa } from './base64.ts';
export { structuredClone } from './structured-clone.ts';
export { Blob, File, type BlobPart, type BlobPropertyBag, type EndingType, type FilePropertyBag } from './blob.ts';
export { FormData, type FormDataEntryValue } from './form-data.ts';
export { TextDecoder } from '../encoding/text-decoder.ts';
export { TextEncoder } from '../encoding/text-encoder.ts';
export { Headers, headersFromFlat, headersToFlat, setHeadersGuard, type HeadersGuard, type HeadersInit } from '../fetch/headers.ts';
export { checkHeadSize } from '../fetch/head-size.ts';
export {
  ByteLengthQueuingStrategy, CountQueuingStrategy, ReadableByteStreamController, ReadableStream, ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest, ReadableStreamDefaultController, ReadableStreamDefaultReader, TextDecoderStream, TextEncoderStream,
  TransformStream, TransformStreamDefaultController, WritableStream, WritableStreamDefaultController, WritableStreamDefaultWriter,
} from './streams.ts';
export { bodyToWire, type BodyInit, type ChunkReader } from '../fetch/body.ts';
export { Request, requestFromWire, requestSignalSource, type RequestInit } from '../fetch/request.ts';
export {
  Response, isResponse, responseFromNetwork, responseHasStreamBody, responseToWire, responseToWireStream, responseWebSocket, type ResponseInit,
} from '../fetch/response.ts';
