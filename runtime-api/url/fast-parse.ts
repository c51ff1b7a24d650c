// A fast path for the URLs edge functions parse all the time: absolute http(s) URLs in the form
// they arrive in (`new URL(request.url)` on every request, fetch targets, redirects).
//
// whatwg-url's state machine is a faithful reading of the URL standard, and slow to match: it
// turns the input into an array of code points and looks up a method by a template string per
// character. In an isolate that serves few requests its code never gets optimised (each isolate
// warms its own JIT), and with 50 busy functions `new URL()` was a third of the isolate threads'
// time (README, "Load spread over many functions").
//
// This parser accepts only inputs whose standard parse is a plain copy of their pieces: a
// lowercase "http://" or "https://", printable ASCII throughout (so nothing to trim, strip or
// percent-encode), an authority of an ASCII domain and an optional port (no credentials, no IP
// address, no punycode label), and no dot segments in the path. Anything else returns null and
// takes the full parser. The test beside this file compares both parsers' records on generated
// and Web Platform Tests inputs.

import { NO_MEMBERS, nullProto } from '../webidl/null-prototype.ts';

/** whatwg-url's URL record (its own property order, so both parsers' records share a shape). */
export interface URLRecord {
  scheme: string;
  username: string;
  password: string;
  host: string | number | number[] | null;
  port: number | null;
  path: string[] | string;
  query: string | null;
  fragment: string | null;
}

// Per ASCII code: which components may hold it as it is (0 = none). Printable ASCII only; a
// component's percent-encode set (URL standard §1.3) and its delimiters are left out.
const PATH = 1;
const QUERY = 2;
const FRAGMENT = 4;
const HOST = 8;
const allowed = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) allowed[c] = PATH | QUERY | FRAGMENT;
// path percent-encode set: " # < > ? ` { } ^ (and space); "\" is a path separator in special URLs.
for (const c of '"#<>?`{}^\\') allowed[c.charCodeAt(0)]! &= ~PATH;
// special-query percent-encode set: " # < > ' (and space).
for (const c of `"#<>'`) allowed[c.charCodeAt(0)]! &= ~QUERY;
// fragment percent-encode set: " < > ` (and space).
for (const c of '"<>`') allowed[c.charCodeAt(0)]! &= ~FRAGMENT;
for (let c = 0x30; c <= 0x39; c++) allowed[c]! |= HOST;
for (let c = 0x41; c <= 0x5a; c++) allowed[c]! |= HOST;
for (let c = 0x61; c <= 0x7a; c++) allowed[c]! |= HOST;
allowed[0x2d]! |= HOST; // -
allowed[0x2e]! |= HOST; // .

const SLASH = 0x2f;
const DOT = 0x2e;
const COLON = 0x3a;
const QUESTION = 0x3f;
const HASH = 0x23;
const PERCENT = 0x25;

/** The URL record of `input` when it has the common shape above, else null (meaning: ask the full parser). */
export function fastParseURL(input: string): URLRecord | null {
  let scheme: string;
  let defaultPort: number;
  let i: number;
  if (input.startsWith('https://')) {
    scheme = 'https';
    defaultPort = 443;
    i = 8;
  } else if (input.startsWith('http://')) {
    scheme = 'http';
    defaultPort = 80;
    i = 7;
  } else return null;
  const end = input.length;

  // Host: labels of letters, digits and hyphens, none empty; the last must not make the host
  // "end in a number" (IPv4 parsing) and none may start with "xn--" (punycode, validated by IDNA).
  const hostStart = i;
  let labelStart = i;
  for (; i < end; i++) {
    const c = input.charCodeAt(i);
    if (c === DOT) {
      if (i === labelStart || punycodeLabel(input, labelStart)) return null;
      labelStart = i + 1;
    } else if (c >= 128 || (allowed[c]! & HOST) === 0) break;
  }
  if (i === labelStart || punycodeLabel(input, labelStart)) return null; // an empty host or last label
  const first = input.charCodeAt(labelStart);
  if (first >= 0x30 && first <= 0x39) return null; // may end in a number: IPv4 rules apply
  const host = input.slice(hostStart, i).toLowerCase();

  let port: number | null = null;
  if (i < end && input.charCodeAt(i) === COLON) {
    const portStart = ++i;
    let value = 0;
    for (; i < end; i++) {
      const c = input.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      value = value * 10 + (c - 0x30);
      if (value > 65535) return null; // a parse failure: the full parser reports it
    }
    if (i > portStart && value !== defaultPort) port = value;
  }

  // Path: "/" and segments, none a dot segment ("." or ".." in any spelling).
  const path: string[] = [];
  if (i < end && input.charCodeAt(i) === SLASH) {
    let segmentStart = ++i;
    for (; ; i++) {
      const c = i < end ? input.charCodeAt(i) : QUESTION;
      if (c === SLASH || c === QUESTION || c === HASH) {
        const segment = input.slice(segmentStart, i);
        if (dotSegment(segment)) return null;
        path.push(segment);
        if (c !== SLASH) break;
        segmentStart = i + 1;
      } else if (c >= 128 || (allowed[c]! & PATH) === 0) return null;
    }
  } else {
    // No path: a special URL gets the empty one ("/" when serialised).
    const c = i < end ? input.charCodeAt(i) : QUESTION;
    if (c !== QUESTION && c !== HASH) return null; // "\", "@", "[", a space…: not this shape
    path.push('');
  }

  let query: string | null = null;
  if (i < end && input.charCodeAt(i) === QUESTION) {
    const queryStart = ++i;
    for (; i < end; i++) {
      const c = input.charCodeAt(i);
      if (c === HASH) break;
      if (c >= 128 || (allowed[c]! & QUERY) === 0) return null;
    }
    query = input.slice(queryStart, i);
  }

  let fragment: string | null = null;
  if (i < end) {
    // Only "#" can be here: the path and query loops end at it or at the end.
    const fragmentStart = ++i;
    for (; i < end; i++) {
      const c = input.charCodeAt(i);
      if (c >= 128 || (allowed[c]! & FRAGMENT) === 0) return null;
    }
    fragment = input.slice(fragmentStart);
  }

  return { scheme, username: '', password: '', host, port, path, query, fragment };
}

// Both run per label or segment of every URL: the first character rules out almost all of them.
function punycodeLabel(input: string, at: number): boolean {
  const c = input.charCodeAt(at) | 0x20; // ASCII lowercase
  return c === 0x78 && input.slice(at, at + 4).toLowerCase() === 'xn--';
}

function dotSegment(segment: string): boolean {
  const c = segment.charCodeAt(0);
  if ((c !== DOT && c !== PERCENT) || segment.length > 6) return false;
  const s = segment.toLowerCase().replaceAll('%2e', '.');
  return s === '.' || s === '..';
}

/** What islet uses of whatwg-url's url-state-machine module. */
export interface StateMachineModule {
  basicURLParse(input: string, options?: { baseURL?: URLRecord | null; encoding?: string; url?: URLRecord; stateOverride?: string }): URLRecord | null;
}

/**
 * Routes whatwg-url's parser through the fast path: `usm` is its url-state-machine module, whose
 * `basicURLParse` every part of whatwg-url calls through the module object (the URL constructor,
 * `href`, `URL.canParse`). Only a plain parse takes the fast path: a setter's state override or
 * a legacy encoding goes to the full parser. A base URL does not matter: an input that starts
 * with "http://" or "https://" is parsed the same with any base.
 */
export function installFastURLParse(usm: StateMachineModule): void {
  const full = usm.basicURLParse;
  usm.basicURLParse = function basicURLParse(input, options = NO_MEMBERS) {
    // whatwg-url's callers pass literals that leave out what they do not set: read only what they
    // wrote, as `url` or `encoding` on a tenant's Object.prototype would otherwise be parsed into.
    const stateOverride = ownMember(options, 'stateOverride');
    const url = ownMember(options, 'url');
    const encoding = ownMember(options, 'encoding');
    if (stateOverride === undefined && url === undefined && encoding === undefined) {
      const record = fastParseURL(input);
      if (record !== null) return record;
    }
    return full(input, nullProto({ baseURL: ownMember(options, 'baseURL'), encoding, url, stateOverride }));
  };
}

// Taken at load, before tenant code could replace it.
const { hasOwn } = Object;

function ownMember<T extends object, K extends keyof T>(options: T, key: K): T[K] | undefined {
  return hasOwn(options, key) ? options[key] : undefined;
}
