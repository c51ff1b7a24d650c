// Fetch §5.4 "Request class". A worker has no base URL, so relative URLs fail to
// parse. Left out until their machinery exists: referrer, referrerPolicy, priority,
// duplex and destination.
import type { ReadableStream } from '../web/streams.ts';
import { type AbortSignal, dependentAbortSignal, isAbortSignalObject } from '../web/abort.ts';
import { URL } from 'whatwg-url';
import {
  defineInterface,
  NO_MEMBERS,
  requireArguments,
  toByteString,
  toDictionary,
  toDOMString,
  toEnum,
  toUSVString,
} from '../webidl/index.ts';
import {
  type Body,
  type BodyInit,
  type BodyMixin,
  type BodyWithType,
  bodyFromBytes,
  bodyFromStream,
  cloneBody,
  defineBodyMixin,
  extractBody,
  isUnusable,
  proxyBody,
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
  setHeadersGuard,
} from './headers.ts';
import { normalizedMethod } from './methods.ts';

export type RequestMode = 'navigate' | 'same-origin' | 'no-cors' | 'cors';
export type RequestCredentials = 'omit' | 'same-origin' | 'include';
export type RequestCache = 'default' | 'no-store' | 'reload' | 'no-cache' | 'force-cache' | 'only-if-cached';
export type RequestRedirect = 'follow' | 'error' | 'manual';

const requestModes: readonly RequestMode[] = ['navigate', 'same-origin', 'no-cors', 'cors'];
const requestCredentials: readonly RequestCredentials[] = ['omit', 'same-origin', 'include'];
const requestCaches: readonly RequestCache[] = ['default', 'no-store', 'reload', 'no-cache', 'force-cache', 'only-if-cached'];
const requestRedirects: readonly RequestRedirect[] = ['follow', 'error', 'manual'];

export interface RequestInit {
  body?: BodyInit | null;
  cache?: RequestCache;
  cf?: object | null;
  credentials?: RequestCredentials;
  headers?: HeadersInit;
  integrity?: string;
  keepalive?: boolean;
  method?: string;
  mode?: RequestMode;
  redirect?: RequestRedirect;
  signal?: AbortSignal | null;
  window?: null;
}

// RFC 9110 token (Fetch "method").
const methodToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Fetch "normalize" a method.
const forbiddenMethods = new Set(['CONNECT', 'TRACE', 'TRACK']);
const corsSafelistedMethods = new Set(['GET', 'HEAD', 'POST']);

/** Fetch §5.4 constructor steps on a string: parse (no base URL) and refuse credentials. */
function parseRequestURL(input: string, where: string): string {
  let parsed: URL;
  try {
    parsed = new URL(input);
  } catch {
    throw new TypeError(`${where}: ${JSON.stringify(input)} is not an absolute URL (a worker has no base URL)`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new TypeError(`${where}: the URL ${JSON.stringify(input)} includes credentials`);
  }
  return parsed.href;
}

function checkMethod(value: unknown, where: string): string {
  const method = toByteString(value, where);
  if (!methodToken.test(method)) throw new TypeError(`${where}: ${JSON.stringify(method)} is not a valid HTTP method`);
  if (forbiddenMethods.has(method.toUpperCase())) throw new TypeError(`${where}: the method ${method} is forbidden`);
  return normalizedMethod(method);
}

// Constructing with this symbol skips the constructor steps: the module's own
// factories fill the fields in. Tenant code cannot get hold of it.
const internal = Symbol('internal');
/** An incoming request's `cf`, made on first read. */
const INCOMING_CF = Symbol('incoming cf');

let createRequest: (method: string, url: string, headers: Headers, body: Body | null) => Request;
let bodyOf: (object: unknown) => Body | null;
let isRequest: (value: unknown) => value is Request;
let signalSourceOf: (request: Request) => AbortSignal | null;
let wireRequest: (method: string, url: string, headers: Headers, body: Body | null, signal: LazySignal | null) => Request;

/** A signal made only when someone asks for it (Request.signal, fetch following it). */
type LazySignal = () => AbortSignal;

export interface Request extends BodyMixin {}

export class Request {
  #method = 'GET';
  #url = '';
  #headers!: Headers;
  #body: Body | null = null;
  #mode: RequestMode = 'cors';
  #credentials: RequestCredentials = 'same-origin';
  #cache: RequestCache = 'default';
  #redirect: RequestRedirect = 'follow';
  #integrity = '';
  #keepalive = false;
  /**
   * The signal this request's signal follows (init's or the input request's), or null for one that
   * never aborts. The dependent signal the spec makes at construction is made on first read of
   * `signal`: most requests are never asked for it, and it would abort exactly when its source does.
   */
  #signalSource: AbortSignal | LazySignal | null = null;
  #signal: AbortSignal | null = null;
  /** Workers' `request.cf`: an incoming request's (INCOMING_CF until first read), or init's. */
  #cf: object | typeof INCOMING_CF | undefined = undefined;

  constructor(input: Request | string | URL, init: RequestInit | undefined = undefined) {
    if ((input as unknown) === internal) return;
    const where = "Failed to construct 'Request'";
    requireArguments(arguments.length, 1, where);
    // WebIDL conversions: RequestInfo, then RequestInit's members in lexicographic order.
    const inputRequest = isRequest(input) ? input : null;
    const inputURL = inputRequest === null ? toUSVString(input) : '';
    const dict = toDictionary(init, where) ?? NO_MEMBERS;
    const bodyMember = dict.body;
    const initBody: BodyWithType | null = bodyMember === undefined || bodyMember === null ? null : extractBody(bodyMember, where);
    const cacheMember = dict.cache;
    const cache = cacheMember === undefined ? undefined : toEnum(cacheMember, requestCaches, where);
    // Workers' own member: Cloudflare properties of a request (its `cf`), kept as given.
    const cfMember = dict.cf;
    if (cfMember !== undefined && cfMember !== null && typeof cfMember !== 'object') throw new TypeError(`${where}: member cf is not an object`);
    const credentialsMember = dict.credentials;
    const credentials = credentialsMember === undefined ? undefined : toEnum(credentialsMember, requestCredentials, where);
    const headersInit = dict.headers;
    const integrityMember = dict.integrity;
    const integrity = integrityMember === undefined ? undefined : toDOMString(integrityMember);
    const keepaliveMember = dict.keepalive;
    const keepalive = keepaliveMember === undefined ? undefined : Boolean(keepaliveMember);
    const methodMember = dict.method;
    const method = methodMember === undefined ? undefined : toByteString(methodMember, where);
    const modeMember = dict.mode;
    const mode = modeMember === undefined ? undefined : toEnum(modeMember, requestModes, where);
    const redirectMember = dict.redirect;
    const redirect = redirectMember === undefined ? undefined : toEnum(redirectMember, requestRedirects, where);
    const signalMember = dict.signal;
    if (signalMember !== undefined && signalMember !== null && !isAbortSignalObject(signalMember)) {
      throw new TypeError(`${where}: member signal is not of type 'AbortSignal'`);
    }
    const windowMember = dict.window;
    if (windowMember !== undefined && windowMember !== null) throw new TypeError(`${where}: window can only be null`);

    if (inputRequest === null) {
      this.#url = parseRequestURL(inputURL, where);
    } else {
      this.#url = inputRequest.#url;
      this.#method = inputRequest.#method;
      this.#mode = inputRequest.#mode;
      this.#credentials = inputRequest.#credentials;
      this.#cache = inputRequest.#cache;
      this.#redirect = inputRequest.#redirect;
      this.#integrity = inputRequest.#integrity;
      this.#keepalive = inputRequest.#keepalive;
      this.#signalSource = inputRequest.#signalSource;
      this.#cf = inputRequest.#cf;
    }
    if (cfMember !== undefined) this.#cf = cfMember ?? undefined;
    if (mode === 'navigate') throw new TypeError(`${where}: mode cannot be 'navigate'`);
    if (mode !== undefined) this.#mode = mode;
    if (credentials !== undefined) this.#credentials = credentials;
    if (cache !== undefined) this.#cache = cache;
    if (this.#cache === 'only-if-cached' && this.#mode !== 'same-origin') {
      throw new TypeError(`${where}: cache 'only-if-cached' needs mode 'same-origin'`);
    }
    if (redirect !== undefined) this.#redirect = redirect;
    if (integrity !== undefined) this.#integrity = integrity;
    if (keepalive !== undefined) this.#keepalive = keepalive;
    if (signalMember !== undefined) this.#signalSource = signalMember;
    if (method !== undefined) this.#method = checkMethod(method, where);

    // Headers: init's replace the input's (the "init is not empty" steps).
    if (headersInit === undefined && inputRequest !== null) {
      this.#headers = copyHeaders(inputRequest.#headers, 'request');
    } else {
      this.#headers = new Headers();
      setHeadersGuard(this.#headers, 'request');
      if (headersInit !== undefined) fill(this.#headers, headersInit, where);
    }
    if (this.#mode === 'no-cors' && !corsSafelistedMethods.has(this.#method)) {
      throw new TypeError(`${where}: mode 'no-cors' allows only GET, HEAD and POST`);
    }

    const inputBody = inputRequest === null ? null : inputRequest.#body;
    if ((initBody !== null || inputBody !== null) && (this.#method === 'GET' || this.#method === 'HEAD')) {
      throw new TypeError(`${where}: a ${this.#method} request cannot have a body`);
    }
    if (initBody !== null) {
      if (initBody.type !== null && !headerListContains(this.#headers, 'content-type')) {
        appendToHeaderList(this.#headers, 'content-type', initBody.type);
      }
      this.#body = initBody.body;
    } else if (inputBody !== null) {
      if (isUnusable(inputBody)) throw new TypeError(`${where}: the input request's body has already been used`);
      this.#body = proxyBody(inputBody);
    }
  }

  get method(): string {
    return this.#method;
  }

  get url(): string {
    return this.#url;
  }

  get headers(): Headers {
    return this.#headers;
  }

  get mode(): RequestMode {
    return this.#mode;
  }

  get credentials(): RequestCredentials {
    return this.#credentials;
  }

  get cache(): RequestCache {
    return this.#cache;
  }

  get redirect(): RequestRedirect {
    return this.#redirect;
  }

  get integrity(): string {
    return this.#integrity;
  }

  get keepalive(): boolean {
    return this.#keepalive;
  }

  /**
   * Workers' Cloudflare properties (country, colo, TLS details…). islet runs on no Cloudflare
   * edge and knows none of them: an incoming request's is an empty object, so that code reading
   * `request.cf.country` gets undefined rather than a TypeError.
   */
  get cf(): object | undefined {
    if (this.#cf === INCOMING_CF) this.#cf = {};
    return this.#cf;
  }

  get signal(): AbortSignal {
    this.#signal ??= dependentAbortSignal(this.#resolvedSignalSource());
    return this.#signal;
  }

  /** The signal source, an incoming request's lazy one made on first need. */
  #resolvedSignalSource(): AbortSignal | null {
    const source = this.#signalSource;
    if (typeof source !== 'function') return source;
    return (this.#signalSource = source());
  }

  clone(): Request {
    if (isUnusable(this.#body)) throw new TypeError("Failed to execute 'clone' on 'Request': the body has already been used");
    const headers = copyHeaders(this.#headers, getHeadersGuard(this.#headers));
    const clone = createRequest(this.#method, this.#url, headers, this.#body === null ? null : cloneBody(this.#body));
    clone.#mode = this.#mode;
    clone.#credentials = this.#credentials;
    clone.#cache = this.#cache;
    clone.#redirect = this.#redirect;
    clone.#integrity = this.#integrity;
    clone.#keepalive = this.#keepalive;
    clone.#signalSource = this.#signalSource;
    clone.#cf = this.#cf;
    return clone;
  }

  static {
    createRequest = (method, url, headers, body) => {
      const request = new Request(internal as never);
      request.#method = method;
      request.#url = url;
      request.#headers = headers;
      request.#body = body;
      return request;
    };
    bodyOf = (object) => (object as Request).#body;
    isRequest = (value): value is Request => typeof value === 'object' && value !== null && #body in value;
    signalSourceOf = (request) => request.#resolvedSignalSource();
    wireRequest = (method, url, headers, body, signal) => {
      const request = createRequest(method, url, headers, body);
      request.#redirect = 'manual';
      request.#signalSource = signal;
      request.#cf = INCOMING_CF;
      return request;
    };
  }
}

defineBodyMixin(Request.prototype, (object) => bodyOf(object));
defineInterface(Request, 'Request');

/**
 * The Request the dispatcher hands the tenant for an incoming HTTP request.
 * method, url and headers come from the host's HTTP parser and are trusted as
 * valid. The headers are immutable, as workerd makes them: they describe what
 * arrived, and a tenant that wants others makes `new Request(request, {headers})`.
 * Its redirect mode is "manual", as workerd's: a proxy that forwards it with
 * `fetch(new Request(upstream, request))` passes a redirect on to its client
 * instead of following it. Its signal follows `signal`, made on first read (the client's
 * disconnect, dispatch/client-signal.ts); without one it never aborts.
 * Takes ownership of flatHeaders and body.
 */
export function requestFromWire(
  method: string, url: string, flatHeaders: string[], body: ArrayBuffer | ReadableStream<Uint8Array> | null, signal: LazySignal | null = null,
): Request {
  const wireBody = body === null ? null : body instanceof ArrayBuffer ? bodyFromBytes(body) : bodyFromStream(body, declaredLength(flatHeaders));
  return wireRequest(method, url, headersFromFlat(flatHeaders, 'immutable'), wireBody, signal);
}

/** A streamed request body's Content-Length, which the host's HTTP parser holds the client to. */
function declaredLength(flatHeaders: string[]): number | undefined {
  for (let i = 0; i < flatHeaders.length; i += 2) {
    if (flatHeaders[i]!.length === 14 && flatHeaders[i]!.toLowerCase() === 'content-length') {
      const value = flatHeaders[i + 1]!;
      return /^\d{1,15}$/.test(value) ? Number(value) : undefined;
    }
  }
  return undefined;
}

/**
 * What fetch() must follow to honour request's signal: the signal it was made with, or null when
 * it can never abort. The same as request.signal, without making it (or running a tenant's getter).
 */
export function requestSignalSource(request: Request): AbortSignal | null {
  return signalSourceOf(request);
}
