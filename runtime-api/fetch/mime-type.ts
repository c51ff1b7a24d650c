// MIME Sniffing §4 "MIME types" (parse and serialize) and Fetch's "extract a
// MIME type" from a Content-Type header value, which blob() and formData() need:
// the first for a Blob's type, the second for the multipart boundary.

/** MIME Sniffing §4.1 "MIME type" record. Type, subtype and parameter names are ASCII lower case. */
export interface MimeType {
  type: string;
  subtype: string;
  parameters: Map<string, string>;
}

// MIME Sniffing's HTTP token code points, HTTP quoted-string token code points and HTTP whitespace.
const tokenCodePoints = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const quotedStringTokenCodePoints = /^[\t\x20-\x7e\x80-\xff]*$/;
const leadingWhitespace = /^[\t\n\r ]+/;
const trailingWhitespace = /[\t\n\r ]+$/;
const trailingTabOrSpace = /[\t ]+$/;

export function essence(mimeType: MimeType): string {
  return `${mimeType.type}/${mimeType.subtype}`;
}

/**
 * Fetch "collect an HTTP quoted string" from input at position, which is
 * at a U+0022 ("): the value with its escapes undone (extract-value), or the
 * code points as they stand, quotes included. Returns the position after it.
 */
function collectQuotedString(input: string, position: number, extractValue: boolean): [value: string, position: number] {
  const start = position;
  let value = '';
  position++;
  for (;;) {
    let end = position;
    while (end < input.length && input[end] !== '"' && input[end] !== '\\') end++;
    value += input.slice(position, end);
    position = end;
    if (position >= input.length) break;
    const quoteOrBackslash = input[position++];
    if (quoteOrBackslash === '"') break;
    if (position >= input.length) {
      value += '\\';
      break;
    }
    value += input[position++];
  }
  return [extractValue ? value : input.slice(start, position), position];
}

/** MIME Sniffing §4.4 "parse a MIME type": null for failure. */
export function parseMimeType(input: string): MimeType | null {
  input = input.replace(leadingWhitespace, '').replace(trailingWhitespace, '');
  const slash = input.indexOf('/');
  if (slash < 0) return null;
  const type = input.slice(0, slash);
  if (!tokenCodePoints.test(type)) return null;
  let position = input.indexOf(';', slash + 1);
  if (position < 0) position = input.length;
  const subtype = input.slice(slash + 1, position).replace(trailingWhitespace, '');
  if (!tokenCodePoints.test(subtype)) return null;
  const mimeType: MimeType = { type: type.toLowerCase(), subtype: subtype.toLowerCase(), parameters: new Map() };
  while (position < input.length) {
    position++; // the ';'
    while (position < input.length && '\t\n\r '.includes(input[position]!)) position++;
    let end = position;
    while (end < input.length && input[end] !== ';' && input[end] !== '=') end++;
    const name = input.slice(position, end).toLowerCase();
    position = end;
    if (position < input.length) {
      if (input[position] === ';') continue;
      position++; // the '='
    }
    if (position >= input.length) break;
    let value: string;
    if (input[position] === '"') {
      [value, position] = collectQuotedString(input, position, true);
      while (position < input.length && input[position] !== ';') position++;
    } else {
      end = input.indexOf(';', position);
      if (end < 0) end = input.length;
      value = input.slice(position, end).replace(trailingWhitespace, '');
      position = end;
      if (value === '') continue;
    }
    if (tokenCodePoints.test(name) && quotedStringTokenCodePoints.test(value) && !mimeType.parameters.has(name)) {
      mimeType.parameters.set(name, value);
    }
  }
  return mimeType;
}

/** MIME Sniffing §4.5 "serialize a MIME type". */
export function serializeMimeType(mimeType: MimeType): string {
  let serialization = essence(mimeType);
  for (const [name, value] of mimeType.parameters) {
    const quoted = value === '' || !tokenCodePoints.test(value);
    serialization += `;${name}=${quoted ? `"${value.replace(/["\\]/g, '\\$&')}"` : value}`;
  }
  return serialization;
}

/** Fetch "get, decode, and split" a header value: commas inside quoted strings do not split. */
function decodeAndSplit(input: string): string[] {
  const values: string[] = [];
  let position = 0;
  let temporaryValue = '';
  for (;;) {
    let end = position;
    while (end < input.length && input[end] !== '"' && input[end] !== ',') end++;
    temporaryValue += input.slice(position, end);
    position = end;
    if (position < input.length && input[position] === '"') {
      let quoted: string;
      [quoted, position] = collectQuotedString(input, position, false);
      temporaryValue += quoted;
      if (position < input.length) continue;
    }
    values.push(temporaryValue.replace(/^[\t ]+/, '').replace(trailingTabOrSpace, ''));
    temporaryValue = '';
    if (position >= input.length) return values;
    position++; // the ','
  }
}

/**
 * Fetch "extract a MIME type" from the combined Content-Type value of a
 * header list (null when there is none): the last valid type wins, and keeps
 * an earlier charset for the same essence. null for failure.
 */
export function extractMimeType(contentType: string | null): MimeType | null {
  if (contentType === null) return null;
  let charset: string | null = null;
  let currentEssence: string | null = null;
  let mimeType: MimeType | null = null;
  for (const value of decodeAndSplit(contentType)) {
    const temporaryMimeType = parseMimeType(value);
    if (temporaryMimeType === null || essence(temporaryMimeType) === '*/*') continue;
    mimeType = temporaryMimeType;
    if (essence(mimeType) !== currentEssence) {
      charset = mimeType.parameters.get('charset') ?? null;
      currentEssence = essence(mimeType);
    } else if (!mimeType.parameters.has('charset') && charset !== null) {
      mimeType.parameters.set('charset', charset);
    }
  }
  return mimeType;
}
