// Fetch §5.5 "Response class". A constructed response has no URL list, so url
// is '' and redirected is false; one from fetch() has the list it was fetched through.
import { URL } from 'whatwg-url';
import {
  defineInterface,
  NO_MEMBERS,
  requireArguments,
  toByteString,
  toDictionary,
  toEnum,
  toUnsignedShort,
  toUSVString,
} from '../webidl/index.ts';
import {
  type Body,
  type BodyInit,
  type BodyMixin,
  type BodyWithType,
  bodyFromBytes,
  bodyFromString,
  bodyToWire,
  bodyChunkReader,
  type ChunkReader,
  cloneBody,
  defineBodyMixin,
  extractBody,
  hasStreamBody,
  isUnusable,
} from './body.ts';
import {
  appendToHeaderList,
  copyHeaders,
  fill,
  getHeadersGuard,
  headerListContains,
  Headers,
  type HeadersInit,
  headersFromFlat,
  headersToFlat,
  setHeadersGuard,
} from './headers.ts';
import { checkHeadSize } from './head-size.ts';

export type ResponseType = 'basic' | 'cors' | 'default' | 'error' | 'opaque' | 'opaqueredirect';

export interface ResponseInit {
  /** Workers' member: 'manual' when the body is already encoded as its Content-Encoding says. */
  encodeBody?: 'automatic' | 'manual';
  headers?: HeadersInit;
  status?: number;
  statusText?: string;
  /** Workers' member: the end of a WebSocketPair that answers an upgrade (status 101). */
  webSocket?: unknown;
}

const encodeBodyValues = ['automatic', 'manual'] as const;

// RFC 9112 reason-phrase: HTAB, SP, VCHAR, obs-text.
const reasonPhrase = /^[\t\x20-\x7e\x80-\xff]*$/;
const stringify = JSON.stringify;
const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);
const redirectStatuses = new Set([301, 302, 303, 307, 308]);

// Constructing with this symbol skips the constructor steps (see request.ts).
const internal = Symbol('internal');

let createResponse: (type: ResponseType, status: number, headers: Headers) => Response;
let bodyOf: (object: unknown) => Body | null;
let initializeResponse: (response: Response, init: unknown, body: BodyWithType | null, where: string) => void;
type WireResponse = [status: number, flatHeaders: string[], body: string | ArrayBuffer | null];
let toWire: (response: Response) => WireResponse;
let webSocketOf: (response: Response) => unknown;

let isResponseObject: (value: unknown) => value is Response;

/** Whether `value` is a Response (a brand check: an object made to look like one is not). */
export function isResponse(value: unknown): value is Response {
  return isResponseObject(value);
}

/** The WebSocketPair end a response answers an upgrade with, or null. */
export function responseWebSocket(response: Response): unknown {
  return webSocketOf(response);
}

/**
 * The header list as the host gets it. A reason phrase of the tenant's own goes first, as a pair
 * named ':status-text', and `encodeBody: 'manual'` as ':encode-body' (no header can have such a
 * name; engine/wire.ts takes them out), only when there are: most answers carry neither.
 */
function wireHeaders(headers: Headers, statusText: string, encodeBodyManual: boolean): string[] {
  // The leading fields go in with the copy, not by unshift (a tenant's replaced unshift added 1.4 GB
  // to what the host copied); no leading field, no prefix array (the usual answer).
  const prefix = statusText === '' ? (encodeBodyManual ? ENCODE_MANUAL : undefined)
    : encodeBodyManual ? [':status-text', statusText, ':encode-body', 'manual'] : [':status-text', statusText];
  return checkHeadSize(headersToFlat(headers), 0, 'the response', undefined, prefix);
}
const ENCODE_MANUAL = [':encode-body', 'manual'];
let toWireStream: (response: Response) => [status: number, flatHeaders: string[], body: ChunkReader];
let fromNetwork: (status: number, statusText: string, flatHeaders: string[], body: ArrayBuffer | null, urls: string[], webSocket: unknown) => Response;

export interface Response extends BodyMixin {}

export class Response {
  #type: ResponseType = 'default';
  #status = 200;
  #statusText = '';
  /**
   * Workers' encodeBody: with 'automatic' (the default) the host encodes the body as the
   * Content-Encoding header says on the way out; 'manual' sends the bytes as they are.
   */
  #encodeBodyManual = false;
  #headers!: Headers;
  #body: Body | null = null;
  /** Fetch's URL list: where a response fetched by fetch() came from, redirects included. */
  #urlList: string[] = [];
  /** Workers' webSocket: the WebSocketPair end given to the client of an upgrade (status 101). */
  #webSocket: unknown = null;

  constructor(body: BodyInit | null = null, init: ResponseInit | undefined = undefined) {
    if ((body as unknown) === internal) return;
    const where = "Failed to construct 'Response'";
    this.#headers = new Headers();
    setHeadersGuard(this.#headers, 'response');
    initializeResponse(this, init, body === null || body === undefined ? null : extractBody(body, where), where);
  }

  get type(): ResponseType {
    return this.#type;
  }

  /** Fetch §5.5: the last URL of the list, serialized with "exclude fragment" set. */
  get url(): string {
    const url = this.#urlList.at(-1) ?? '';
    const hash = url.indexOf('#');
    return hash < 0 ? url : url.slice(0, hash);
  }

  get redirected(): boolean {
    return this.#urlList.length > 1;
  }

  get status(): number {
    return this.#status;
  }

  get ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }

  get statusText(): string {
    return this.#statusText;
  }

  get webSocket(): unknown {
    return this.#webSocket;
  }

  get headers(): Headers {
    return this.#headers;
  }

  clone(): Response {
    if (isUnusable(this.#body)) throw new TypeError("Failed to execute 'clone' on 'Response': the body has already been used");
    const clone = createResponse(this.#type, this.#status, copyHeaders(this.#headers, getHeadersGuard(this.#headers)));
    clone.#statusText = this.#statusText;
    clone.#encodeBodyManual = this.#encodeBodyManual;
    clone.#body = this.#body === null ? null : cloneBody(this.#body);
    clone.#urlList = this.#urlList;
    return clone;
  }

  /** Fetch §5.5 Response.error(): a network error. */
  static error(): Response {
    return createResponse('error', 0, immutableHeaders());
  }

  /** Fetch §5.5 Response.redirect(url, status). */
  static redirect(url: string | URL, status: number = 302): Response {
    const where = "Failed to execute 'redirect' on 'Response'";
    requireArguments(arguments.length, 1, where);
    const input = toUSVString(url);
    const code = toUnsignedShort(status);
    let parsed: URL;
    try {
      parsed = new URL(input);
    } catch {
      throw new TypeError(`${where}: ${JSON.stringify(input)} is not an absolute URL (a worker has no base URL)`);
    }
    if (!redirectStatuses.has(code)) throw new RangeError(`${where}: ${code} is not a redirect status`);
    const headers = immutableHeaders();
    appendToHeaderList(headers, 'location', parsed.href);
    return createResponse('default', code, headers);
  }

  /** Fetch §5.5 Response.json(data, init): "serialize a JavaScript value to JSON bytes". */
  static json(data: unknown, init: ResponseInit | undefined = undefined): Response {
    const where = "Failed to execute 'json' on 'Response'";
    requireArguments(arguments.length, 1, where);
    const json = stringify(data) as string | undefined;
    if (json === undefined) throw new TypeError(`${where}: the data cannot be serialized to JSON`);
    const headers = new Headers();
    setHeadersGuard(headers, 'response');
    const response = createResponse('default', 200, headers);
    // JSON.stringify escapes lone surrogates, so its output is a scalar value string.
    initializeResponse(response, init, { body: bodyFromString(json), type: 'application/json' }, where);
    return response;
  }

  static {
    isResponseObject = (value): value is Response => typeof value === 'object' && value !== null && #status in value;
    createResponse = (type, status, headers) => {
      const response = new Response(internal as never);
      response.#type = type;
      response.#status = status;
      response.#headers = headers;
      return response;
    };
    bodyOf = (object) => (object as Response).#body;
    webSocketOf = (response) => response.#webSocket;
    toWire = (response) => [response.#status, wireHeaders(response.#headers, response.#statusText, response.#encodeBodyManual), bodyToWire(response.#body)];
    toWireStream = (response) => [
      response.#status, wireHeaders(response.#headers, response.#statusText, response.#encodeBodyManual), bodyChunkReader(response.#body!),
    ];
    fromNetwork = (status, statusText, flatHeaders, body, urls, webSocket) => {
      const response = createResponse('basic', status, headersFromFlat(flatHeaders, 'immutable'));
      response.#statusText = statusText;
      response.#webSocket = webSocket;
      response.#body = body === null ? null : bodyFromBytes(body);
      response.#urlList = urls;
      return response;
    };
    // Fetch §5.5 "initialize a response", with ResponseInit converted first
    // (members in lexicographic order: headers, status, statusText).
    initializeResponse = (response, init, body, where) => {
      const dict = toDictionary(init, where) ?? NO_MEMBERS;
      const encodeBodyMember = dict.encodeBody;
      const encodeBody = encodeBodyMember === undefined ? 'automatic' : toEnum(encodeBodyMember, encodeBodyValues, where);
      const headersInit = dict.headers;
      const statusMember = dict.status;
      const status = statusMember === undefined ? 200 : toUnsignedShort(statusMember);
      const statusTextMember = dict.statusText;
      const statusText = statusTextMember === undefined ? '' : toByteString(statusTextMember, where);
      // Workers: status 101 answers an upgrade, with the WebSocketPair end the client gets.
      const webSocket = dict.webSocket ?? null;
      if (webSocket !== null && status !== 101) throw new RangeError(`${where}: a response with a webSocket must have status 101, not ${status}`);
      if (status === 101 && webSocket === null) throw new RangeError(`${where}: status 101 needs a webSocket (an end of a WebSocketPair)`);
      if ((status < 200 || status > 599) && status !== 101) throw new RangeError(`${where}: status ${status} is outside 200-599`);
      response.#webSocket = webSocket;
      if (!reasonPhrase.test(statusText)) throw new TypeError(`${where}: ${JSON.stringify(statusText)} is not a valid status text`);
      response.#status = status;
      response.#statusText = statusText;
      response.#encodeBodyManual = encodeBody === 'manual';
      if (headersInit !== undefined) fill(response.#headers, headersInit, where);
      // An empty body with a null body status (`new Response('', { status: 204 })`, common in CORS
      // preflight answers) is taken as no body, as workerd does, though Fetch says to throw.
      if (body !== null && nullBodyStatuses.has(status) && body.body.source !== null && body.body.source.length === 0) body = null;
      if (body !== null) {
        if (nullBodyStatuses.has(status)) throw new TypeError(`${where}: a response with status ${status} cannot have a body`);
        response.#body = body.body;
        if (body.type !== null && !headerListContains(response.#headers, 'content-type')) {
          appendToHeaderList(response.#headers, 'content-type', body.type);
        }
      }
    };
  }
}

function immutableHeaders(): Headers {
  const headers = new Headers();
  setHeadersGuard(headers, 'immutable');
  return headers;
}

defineBodyMixin(Response.prototype, (object) => bodyOf(object));
defineInterface(Response, 'Response');

/** A response fetch() received: immutable headers, type "basic", its URL list (Fetch §4.1). */
export function responseFromNetwork(status: number, statusText: string, flatHeaders: string[], body: ArrayBuffer | null, urls: string[], webSocket: unknown = null): Response {
  return fromNetwork(status, statusText, flatHeaders, body, urls, webSocket);
}

/**
 * What the dispatcher writes for a tenant's Response: status, the header list
 * ([name0, value0, …], lower-case names; read-only, see headersToFlat) and the
 * body (the string as given, or an ArrayBuffer the caller owns). Marks the body
 * used; a TypeError if it was already read, or if it is a stream body
 * (responseHasStreamBody: use responseToWireStream). Response.error() gives status 0.
 */
export function responseToWire(response: Response): WireResponse {
  return toWire(response);
}

/** True when only responseToWireStream can send the response: its body must be read from a ReadableStream. */
export function responseHasStreamBody(response: Response): boolean {
  return hasStreamBody(bodyOf(response));
}

/** For a response whose body is a stream (responseHasStreamBody): its status, headers and a reader of its chunks. */
export function responseToWireStream(response: Response): [status: number, flatHeaders: string[], body: ChunkReader] {
  return toWireStream(response);
}
