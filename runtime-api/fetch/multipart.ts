// multipart/form-data bodies: written by HTML's "multipart/form-data encoding
// algorithm", as browsers and undici write them, and read per RFC 7578 with
// RFC 2046 §5.1.1's framing (preamble, transport padding and epilogue
// allowed), as Fetch's formData() asks.
import { runUtf8Decoder, Utf8Decoder, utf8Encode } from '../encoding/utf8.ts';
import { joinBytes } from '../web/bytes.ts';
import { blobBytes, blobType, createFile, fileName, toBlobType } from '../web/blob.ts';
import type { FormDataEntry } from '../web/form-data.ts';

const CR = 0x0d;
const LF = 0x0a;
const hyphen = 0x2d;
const space = 0x20;
const tab = 0x09;
// RFC 9110 token, for part header names.
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const tabsOrSpaces = /^[\t ]+|[\t ]+$/g;

/** Every CR not before an LF, and every LF not after a CR, becomes CRLF (the encoding algorithm's step 1). */
function normalizeNewlines(s: string): string {
  return s.replace(/\r\n|\r|\n/g, '\r\n');
}

/** The only escapes HTML allows in field names and filenames; '%' itself is left alone. */
function escapeQuotedValue(s: string): string {
  return s.replace(/[\n\r"]/g, (c) => (c === '\n' ? '%0A' : c === '\r' ? '%0D' : '%22'));
}

function unescapeQuotedValue(s: string): string {
  return s.replace(/%0A|%0D|%22/g, (escape) => (escape === '%0A' ? '\n' : escape === '%0D' ? '\r' : '"'));
}

/** The boundary, from crypto.getRandomValues as the runtime has it when the body is made. */
function generateBoundary(): string {
  const crypto = (globalThis as { crypto?: { getRandomValues?(array: Uint8Array): Uint8Array } }).crypto;
  if (typeof crypto?.getRandomValues !== 'function') {
    throw new TypeError('A multipart/form-data body needs crypto.getRandomValues for its boundary');
  }
  let hex = '';
  for (const byte of crypto.getRandomValues(new Uint8Array(16))) hex += byte.toString(16).padStart(2, '0');
  return `----islet-formdata-${hex}`;
}

/**
 * HTML "multipart/form-data encoding algorithm" with UTF-8: names and string
 * values have their newlines normalized to CRLF; names and filenames escape
 * LF, CR and '"'; a file without a type is application/octet-stream.
 */
export function encodeMultipartFormData(entries: readonly FormDataEntry[]): { bytes: Uint8Array<ArrayBuffer>; boundary: string } {
  const boundary = generateBoundary();
  const chunks: Uint8Array[] = [];
  let text = '';
  for (const [name, value] of entries) {
    text += `--${boundary}\r\nContent-Disposition: form-data; name="${escapeQuotedValue(normalizeNewlines(name))}"`;
    if (typeof value === 'string') {
      text += `\r\n\r\n${normalizeNewlines(value)}\r\n`;
      continue;
    }
    text += `; filename="${escapeQuotedValue(fileName(value))}"\r\n`;
    text += `Content-Type: ${blobType(value) || 'application/octet-stream'}\r\n\r\n`;
    chunks.push(utf8Encode(text), blobBytes(value));
    text = '\r\n';
  }
  chunks.push(utf8Encode(`${text}--${boundary}--\r\n`));
  let size = 0;
  for (const chunk of chunks) size += chunk.length;
  return { bytes: joinBytes(chunks, size), boundary };
}

function formDataError(reason: string): TypeError {
  return new TypeError(`The body is not valid multipart/form-data: ${reason}`);
}

/** Encoding "UTF-8 decode without BOM": names and string values keep a leading U+FEFF. */
function utf8DecodeWithoutBOM(bytes: Uint8Array): string {
  return runUtf8Decoder(new Utf8Decoder(), bytes, true, false);
}

function isomorphicEncode(s: string): Uint8Array {
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

function isomorphicDecode(bytes: Uint8Array): string {
  let s = '';
  for (const byte of bytes) s += String.fromCharCode(byte);
  return s;
}

function isCRLF(input: Uint8Array, position: number): boolean {
  return input[position] === CR && input[position + 1] === LF;
}

function matchesAt(input: Uint8Array, position: number, bytes: Uint8Array): boolean {
  if (position + bytes.length > input.length) return false;
  for (let i = 0; i < bytes.length; i++) if (input[position + i] !== bytes[i]) return false;
  return true;
}

/** The first position of bytes in input at or after from, or -1; the native indexOf finds each candidate's first byte. */
function indexOfBytes(input: Uint8Array, bytes: Uint8Array, from: number): number {
  for (let i = input.indexOf(bytes[0]!, from); i >= 0; i = input.indexOf(bytes[0]!, i + 1)) {
    if (matchesAt(input, i, bytes)) return i;
  }
  return -1;
}

/**
 * A quoted parameter value starting after its opening quote at `position`: its text up to the
 * closing quote, with `\"` and `\\` taken as one quote and one backslash, which is how Go's
 * mime/multipart (and RFC 2045's quoted-string) escapes them and workerd reads them. HTML escapes
 * a quote as %22 and never writes `\"`; a lone backslash before anything else stays, as a
 * browser's raw `a\b.txt` needs. Null when no quote closes it.
 */
function quotedValue(value: string, position: number): [text: string, end: number] | null {
  let text = '';
  let escaped: [string, number] | null = null;
  for (let i = position; i < value.length; i++) {
    const c = value[i];
    if (c === '"') {
      escaped = [text, i];
      break;
    }
    if (c === '\\' && (value[i + 1] === '"' || value[i + 1] === '\\')) text += value[++i];
    else text += c;
  }
  if (escaped && parameterEnd(value, escaped[1] + 1) >= 0) return escaped;
  // Read with escapes it does not end where a parameter may: a browser's name ending in a
  // backslash (`name="dir\"; filename=…`, which HTML does not escape) is the plain quoted text.
  const end = value.indexOf('"', position);
  if (end >= 0 && parameterEnd(value, end + 1) >= 0) return [value.slice(position, end), end];
  return escaped;
}

/** Where the parameter ends (its ';', or the value's end) when only spaces or tabs come before it from `position`; -1 when other text does. */
function parameterEnd(value: string, position: number): number {
  while (value[position] === ' ' || value[position] === '\t') position++;
  return position >= value.length || value[position] === ';' ? position : -1;
}

/**
 * RFC 7578 §4.2 Content-Disposition: "form-data", then parameters in any
 * order, quoted (with HTML's %0A, %0D and %22 escapes, and the backslash
 * escapes of quotedValue) or tokens. Values are UTF-8; the first of each name counts.
 */
function parseContentDisposition(value: string): [name: string | null, filename: string | null] {
  let position = value.indexOf(';');
  if (position < 0) position = value.length;
  if (value.slice(0, position).replace(tabsOrSpaces, '').toLowerCase() !== 'form-data') {
    throw formDataError('a part is not form-data');
  }
  let name: string | null = null;
  let filename: string | null = null;
  while (position < value.length) {
    position++; // the ';'
    let end = position;
    while (end < value.length && value[end] !== '=' && value[end] !== ';') end++;
    const parameterName = value.slice(position, end).replace(tabsOrSpaces, '').toLowerCase();
    position = end;
    if (value[position] !== '=') continue;
    position++;
    while (value[position] === ' ' || value[position] === '\t') position++;
    let parameterValue: string;
    if (value[position] === '"') {
      const quoted = quotedValue(value, position + 1);
      if (quoted === null) throw formDataError('a quoted Content-Disposition parameter is not closed');
      parameterValue = unescapeQuotedValue(quoted[0]);
      position = parameterEnd(value, quoted[1] + 1);
      if (position < 0) throw formDataError('text follows a quoted parameter');
    } else {
      end = value.indexOf(';', position);
      if (end < 0) end = value.length;
      parameterValue = value.slice(position, end).replace(tabsOrSpaces, '');
      position = end;
    }
    if (parameterName === 'name') name ??= utf8DecodeWithoutBOM(isomorphicEncode(parameterValue));
    else if (parameterName === 'filename') filename ??= utf8DecodeWithoutBOM(isomorphicEncode(parameterValue));
  }
  return [name, filename];
}

interface PartHeaders {
  name: string;
  filename: string | null;
  contentType: string | null;
  /** Where the part's body starts, after the empty line. */
  bodyStart: number;
}

/** A part's header lines, from position to the empty line; only Content-Disposition and Content-Type count. */
function parsePartHeaders(input: Uint8Array, position: number): PartHeaders {
  let name: string | null = null;
  let filename: string | null = null;
  let contentType: string | null = null;
  while (!isCRLF(input, position)) {
    const lineEnd = input.indexOf(LF, position);
    if (lineEnd <= position || input[lineEnd - 1] !== CR) throw formDataError('a part header line does not end in CRLF');
    const line = isomorphicDecode(input.subarray(position, lineEnd - 1));
    position = lineEnd + 1;
    const colon = line.indexOf(':');
    const headerName = colon < 0 ? '' : line.slice(0, colon).replace(tabsOrSpaces, '');
    if (!token.test(headerName) || line.includes('\r')) throw formDataError(`${JSON.stringify(line)} is not a part header`);
    const headerValue = line.slice(colon + 1).replace(tabsOrSpaces, '');
    switch (headerName.toLowerCase()) {
      case 'content-disposition':
        [name, filename] = parseContentDisposition(headerValue);
        break;
      case 'content-type':
        contentType = headerValue;
        break;
    }
  }
  if (name === null) throw formDataError('a part has no Content-Disposition name');
  return { name, filename, contentType, bodyStart: position + 2 };
}

/**
 * Fetch §5.3 formData() for multipart/form-data: a part with a filename is a
 * File (its type from the part's Content-Type, RFC 7578 §4.4's text/plain
 * without one), any other part a string, whatever its Content-Type or charset.
 * A TypeError when the body does not parse.
 */
export function parseMultipartFormData(input: Uint8Array, boundary: string): FormDataEntry[] {
  if (boundary === '') throw formDataError('the boundary is empty');
  const delimiter = isomorphicEncode(`\r\n--${boundary}`);
  let position: number;
  if (matchesAt(input, 0, delimiter.subarray(2))) {
    position = delimiter.length - 2;
  } else {
    const first = indexOfBytes(input, delimiter, 0);
    if (first < 0) throw formDataError('the boundary does not occur in the body');
    position = first + delimiter.length;
  }
  const entries: FormDataEntry[] = [];
  for (;;) {
    // After a boundary, "--" closes the body (what follows is epilogue); else padding and CRLF open a part.
    if (input[position] === hyphen && input[position + 1] === hyphen) return entries;
    while (input[position] === space || input[position] === tab) position++;
    if (!isCRLF(input, position)) throw formDataError('a boundary line does not end in CRLF');
    const part = parsePartHeaders(input, position + 2);
    const end = indexOfBytes(input, delimiter, part.bodyStart);
    if (end < 0) throw formDataError('a part is not closed by a boundary');
    const body = input.subarray(part.bodyStart, end);
    if (part.filename === null) {
      entries.push([part.name, utf8DecodeWithoutBOM(body)]);
    } else {
      const type = toBlobType(part.contentType ?? 'text/plain');
      entries.push([part.name, createFile(body.slice(), part.filename, type, Date.now())]);
    }
    position = end + delimiter.length;
  }
}
