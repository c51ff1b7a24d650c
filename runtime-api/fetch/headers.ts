// Fetch §5.1 "Headers class", over a header list (Fetch "Headers") kept as one flat
// array [name0, value0, name1, value1, …] so the dispatcher can hand it to and
// take it from the wire without reshaping.
//
// Names are stored lower-cased: every read is case-insensitive and every
// iteration lower-cases them, so the original case is never observable.
// The "forbidden request-header" and "forbidden response-header name" filters of
// the 'request' and 'response' guards are left out on purpose: like workerd and
// undici, a server runtime must be able to set Host, Cookie, Set-Cookie, etc.
import {
  defineInterface,
  defineIteratorPrototype,
  nullProto,
  requireArguments,
  toByteString,
  toUSVString,
} from '../webidl/index.ts';

export type HeadersGuard = 'immutable' | 'request' | 'request-no-cors' | 'response' | 'none';
export type HeadersInit = Headers | Iterable<Iterable<string>> | Record<string, string>;

// RFC 9110 token (Fetch "header name").
const headerName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Fetch "header value", once normalized: no NUL and no HTTP newline bytes.
const invalidValueByte = /[\0\n\r]/;

function isHTTPWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** Fetch "normalize" a byte sequence: strip leading and trailing HTTP whitespace bytes. */
function normalize(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isHTTPWhitespace(value.charCodeAt(start))) start++;
  while (end > start && isHTTPWhitespace(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

function checkName(name: string, where: string): string {
  if (!headerName.test(name)) throw new TypeError(`${where}: ${JSON.stringify(name)} is not a valid header name`);
  return name.toLowerCase();
}

/** Fetch "get" a name from a header list: the values joined with ", ", or null. */
function getCombined(list: string[], name: string): string | null {
  let value: string | null = null;
  for (let i = 0; i < list.length; i += 2) {
    if (list[i] !== name) continue;
    value = value === null ? list[i + 1]! : `${value}, ${list[i + 1]}`;
  }
  return value;
}

/**
 * Fetch "sort and combine": names sorted (they are lower-case ASCII, so
 * code unit order is byte order), each name's values joined with ", ", except
 * set-cookie whose values stay one pair each.
 */
function sortAndCombine(list: string[]): string[] {
  const order: number[] = [];
  for (let i = 0; i < list.length; i += 2) order.push(i);
  // Array.prototype.sort is stable, so a name's values keep their order.
  order.sort((a, b) => (list[a]! < list[b]! ? -1 : list[a]! > list[b]! ? 1 : 0));
  const out: string[] = [];
  for (let j = 0; j < order.length; ) {
    const name = list[order[j]!]!;
    let value = list[order[j]! + 1]!;
    j++;
    if (name !== 'set-cookie') {
      while (j < order.length && list[order[j]!] === name) value += `, ${list[order[j++]! + 1]}`;
    }
    out.push(name, value);
  }
  return out;
}

let listOf: (headers: Headers) => string[];
let writableList: (headers: Headers) => string[];
let guardOf: (headers: Headers) => HeadersGuard;
let setGuard: (headers: Headers, guard: HeadersGuard) => void;
let adoptList: (headers: Headers, list: string[]) => void;
let shareList: (headers: Headers) => string[];
let pairsOf: (headers: Headers) => string[];
let isHeaders: (value: unknown) => value is Headers;

const propertyIsEnumerable = Object.prototype.propertyIsEnumerable;

export class Headers {
  #list: string[] = [];
  #guard: HeadersGuard = 'none';
  /** "sort and combine" of #list, until the next change. */
  #sorted: string[] | null = null;
  /** #list was handed to the dispatcher by headersToFlat: copy it before changing it. */
  #shared = false;

  constructor(init: HeadersInit | undefined = undefined) {
    if (init !== undefined) fill(this, init, "Failed to construct 'Headers'");
  }

  append(name: string, value: string): void {
    const where = "Failed to execute 'append' on 'Headers'";
    requireArguments(arguments.length, 2, where);
    appendHeader(this, toByteString(name, where), toHeaderValue(value), where);
  }

  delete(name: string): void {
    const where = "Failed to execute 'delete' on 'Headers'";
    requireArguments(arguments.length, 1, where);
    const key = checkName(toByteString(name, where), where);
    assertMutable(this, where);
    if (!headerListContains(this, key)) return;
    const list = writableList(this);
    let k = 0;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] === key) continue;
      list[k++] = list[i]!;
      list[k++] = list[i + 1]!;
    }
    list.length = k;
  }

  get(name: string): string | null {
    const where = "Failed to execute 'get' on 'Headers'";
    requireArguments(arguments.length, 1, where);
    return getCombined(this.#list, checkName(toByteString(name, where), where));
  }

  /**
   * Workers' older form of getSetCookie (not in Fetch): Set-Cookie only, which cannot be combined
   * into one value; any other name is a TypeError, as on workerd.
   */
  getAll(name: string): string[] {
    const where = "Failed to execute 'getAll' on 'Headers'";
    requireArguments(arguments.length, 1, where);
    const key = checkName(toByteString(name, where), where);
    if (key !== 'set-cookie') throw new TypeError(`${where}: getAll() can only be used with the header name "Set-Cookie"`);
    return this.getSetCookie();
  }

  getSetCookie(): string[] {
    const list = this.#list;
    const out: string[] = [];
    for (let i = 0; i < list.length; i += 2) if (list[i] === 'set-cookie') out.push(list[i + 1]!);
    return out;
  }

  has(name: string): boolean {
    const where = "Failed to execute 'has' on 'Headers'";
    requireArguments(arguments.length, 1, where);
    const key = checkName(toByteString(name, where), where);
    const list = this.#list;
    for (let i = 0; i < list.length; i += 2) if (list[i] === key) return true;
    return false;
  }

  set(name: string, value: string): void {
    const where = "Failed to execute 'set' on 'Headers'";
    requireArguments(arguments.length, 2, where);
    const key = checkName(toByteString(name, where), where);
    const normalized = checkValue(toHeaderValue(value), where);
    const list = mutableListOf(this, where);
    // Fetch "set": the first pair takes the value, the others go.
    let found = false;
    let k = 0;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] === key) {
        if (found) continue;
        found = true;
        list[k++] = key;
        list[k++] = normalized;
      } else {
        list[k++] = list[i]!;
        list[k++] = list[i + 1]!;
      }
    }
    list.length = k;
    if (!found) list.push(key, normalized);
  }

  forEach(callback: (value: string, name: string, parent: Headers) => void, thisArg: unknown = undefined): void {
    const where = "Failed to execute 'forEach' on 'Headers'";
    requireArguments(arguments.length, 1, where);
    if (typeof callback !== 'function') throw new TypeError(`${where}: the callback is not a function`);
    // WebIDL pair iterator forEach: the pairs are looked up again after each call.
    for (let i = 0; i < pairsOf(this).length; i += 2) {
      const pairs = pairsOf(this);
      Reflect.apply(callback, thisArg, [pairs[i + 1], pairs[i], this]);
    }
  }

  keys(): HeadersIterator<string> {
    return new HeadersIterator(this, 'key');
  }

  values(): HeadersIterator<string> {
    return new HeadersIterator(this, 'value');
  }

  entries(): HeadersIterator<[string, string]> {
    return new HeadersIterator(this, 'key+value');
  }

  declare [Symbol.iterator]: () => HeadersIterator<[string, string]>;

  static {
    listOf = (headers) => headers.#list;
    writableList = (headers) => {
      if (headers.#shared) {
        headers.#list = headers.#list.slice();
        headers.#shared = false;
      }
      headers.#sorted = null;
      return headers.#list;
    };
    guardOf = (headers) => headers.#guard;
    setGuard = (headers, guard) => {
      headers.#guard = guard;
    };
    adoptList = (headers, list) => {
      headers.#list = list;
      headers.#sorted = null;
      headers.#shared = false;
    };
    shareList = (headers) => {
      headers.#shared = true;
      return headers.#list;
    };
    pairsOf = (headers) => (headers.#sorted ??= sortAndCombine(headers.#list));
    isHeaders = (value): value is Headers => typeof value === 'object' && value !== null && #list in value;
  }
}

// WebIDL iterable declarations: @@iterator is the same function object as entries.
Object.defineProperty(Headers.prototype, Symbol.iterator, nullProto({
  value: Headers.prototype.entries,
  writable: true,
  enumerable: false,
  configurable: true,
}));
defineInterface(Headers, 'Headers');

/** WebIDL "default iterator objects" for Headers' pair iterator. */
class HeadersIterator<T> {
  #target: Headers;
  #kind: 'key' | 'value' | 'key+value';
  #index = 0;

  constructor(target: Headers, kind: 'key' | 'value' | 'key+value') {
    this.#target = target;
    this.#kind = kind;
  }

  next(): IteratorResult<T, undefined> {
    const pairs = pairsOf(this.#target);
    const i = this.#index * 2;
    if (i >= pairs.length) return { value: undefined, done: true };
    this.#index++;
    const kind = this.#kind;
    const value = kind === 'key' ? pairs[i] : kind === 'value' ? pairs[i + 1] : [pairs[i], pairs[i + 1]];
    return { value: value as T, done: false };
  }

  declare [Symbol.iterator]: () => HeadersIterator<T>;
}

// The iterator prototype inherits %IteratorPrototype% and has only next();
// dropping constructor keeps HeadersIterator itself out of tenants' reach.
Object.setPrototypeOf(HeadersIterator.prototype, Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())));
Reflect.deleteProperty(HeadersIterator.prototype, 'constructor');
defineIteratorPrototype(HeadersIterator.prototype, 'Headers Iterator');

function assertMutable(headers: Headers, where: string): void {
  if (guardOf(headers) === 'immutable') throw new TypeError(`${where}: the headers are immutable`);
}

/** The header list, ready for a change: a TypeError when immutable. */
function mutableListOf(headers: Headers, where: string): string[] {
  assertMutable(headers, where);
  return writableList(headers);
}

function checkValue(value: string, where: string): string {
  const normalized = normalize(value);
  if (invalidValueByte.test(normalized)) {
    throw new TypeError(`${where}: ${JSON.stringify(value)} is not a valid header value`);
  }
  return normalized;
}

/**
 * A header value as workerd takes it: any text (a lone surrogate becomes U+FFFD), sent as UTF-8
 * (engine/tiers/isolate/header-text.ts), where Fetch's ByteString refuses anything past U+00FF.
 * Code that runs on Workers sets such values (a filename in Content-Disposition, a name in a
 * custom header) and would fail here otherwise.
 */
function toHeaderValue(value: unknown): string {
  return toUSVString(value);
}

/** Fetch §5.1 "append" a header to a Headers object: normalize, validate, append. */
function appendHeader(headers: Headers, name: string, value: string, where: string): void {
  const key = checkName(name, where);
  const normalized = checkValue(value, where);
  mutableListOf(headers, where).push(key, normalized);
}

/**
 * Fetch §5.1 "fill" a Headers object from a HeadersInit, after the WebIDL union
 * conversion (sequence<sequence<ByteString>> or record<ByteString, ByteString>).
 */
export function fill(headers: Headers, init: unknown, where: string): void {
  if (init === null || (typeof init !== 'object' && typeof init !== 'function')) {
    throw new TypeError(`${where}: the headers init is neither a sequence of pairs nor a record`);
  }
  const iteratorMethod = (init as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (isHeaders(init) && iteratorMethod === Headers.prototype.entries) {
    // Its pairs are valid already; copying the list gives the same get() and
    // iteration results as appending the combined pairs one by one.
    const source = listOf(init);
    if (source.length === 0) return;
    const list = mutableListOf(headers, where);
    for (const item of source) list.push(item);
    return;
  }
  const pairs: string[] = [];
  if (iteratorMethod !== undefined && iteratorMethod !== null) {
    if (typeof iteratorMethod !== 'function') throw new TypeError(`${where}: the headers init's @@iterator is not callable`);
    for (const item of init as Iterable<unknown>) {
      if (item === null || typeof item !== 'object' || typeof (item as Iterable<unknown>)[Symbol.iterator] !== 'function') {
        throw new TypeError(`${where}: each header must be a sequence of a name and a value`);
      }
      const pair = Array.from(item as Iterable<unknown>);
      if (pair.length !== 2) throw new TypeError(`${where}: each header must have exactly 2 items, not ${pair.length}`);
      pairs.push(toByteString(pair[0], where), toHeaderValue(pair[1]));
    }
  } else {
    for (const key of Reflect.ownKeys(init)) {
      if (!propertyIsEnumerable.call(init, key)) continue;
      pairs.push(toByteString(key, where), toHeaderValue((init as Record<PropertyKey, unknown>)[key]));
    }
  }
  for (let i = 0; i < pairs.length; i += 2) appendHeader(headers, pairs[i]!, pairs[i + 1]!, where);
}

// The dispatcher's and fetch classes' view of a header list: module functions,
// so tenant code cannot reach them through the objects.

/**
 * A Headers over a header list from the HTTP parser, trusted as valid. Takes
 * ownership of list ([name0, value0, …]) and lower-cases its names in place.
 */
export function headersFromFlat(list: string[], guard: HeadersGuard): Headers {
  for (let i = 0; i < list.length; i += 2) list[i] = list[i]!.toLowerCase();
  const headers = new Headers();
  adoptList(headers, list);
  setGuard(headers, guard);
  return headers;
}

/**
 * The header list as [name0, value0, …] with lower-case names, in insertion
 * order, set-cookie pairs separate. Not a copy: the caller must not change it;
 * the Headers copies it before its own next change.
 */
export function headersToFlat(headers: Headers): string[] {
  return shareList(headers);
}

export function setHeadersGuard(headers: Headers, guard: HeadersGuard): void {
  setGuard(headers, guard);
}

export function getHeadersGuard(headers: Headers): HeadersGuard {
  return guardOf(headers);
}

/** Fetch "header list contains" for a lower-case name. */
export function headerListContains(headers: Headers, lowerName: string): boolean {
  const list = listOf(headers);
  for (let i = 0; i < list.length; i += 2) if (list[i] === lowerName) return true;
  return false;
}

/** Appends a pair the caller knows is valid (a lower-case name, a normalized value), whatever the guard. */
export function appendToHeaderList(headers: Headers, lowerName: string, value: string): void {
  writableList(headers).push(lowerName, value);
}

/** A new Headers with a copy of headers' list, as Request and Response clone() need. */
export function copyHeaders(headers: Headers, guard: HeadersGuard): Headers {
  const copy = new Headers();
  adoptList(copy, listOf(headers).slice());
  setGuard(copy, guard);
  return copy;
}
