// Fetch §4.2 "scheme fetch" for data: URLs, with the "data: URL processor" (Fetch §3.3.7): fetch()
// answers them in the isolate, with no subrequest. The MIME type parser and percent-decoding are
// the runtime's own (mime-type.ts, whatwg-url); forgiving-base64 is atob's.
import { percentDecodeBytes } from 'whatwg-url';
import { parseMimeType, serializeMimeType } from './mime-type.ts';
import { atob } from '../web/base64.ts';

const ASCII_WHITESPACE = /^[\t\n\f\r ]+|[\t\n\f\r ]+$/g;
const BASE64_SUFFIX = /;\x20*base64$/i;

/** The MIME type (serialized) and body of a data: URL, or null for failure. */
export function processDataUrl(url: string): { mimeType: string; body: Uint8Array } | null {
  // The URL serializer with "exclude fragment": request.url is serialized already.
  const hash = url.indexOf('#');
  const input = (hash < 0 ? url : url.slice(0, hash)).slice('data:'.length);
  const comma = input.indexOf(',');
  if (comma < 0) return null;
  let mimeType = input.slice(0, comma).replace(ASCII_WHITESPACE, '');
  // A serialized URL is ASCII (others are percent-encoded): its code units are its bytes.
  const encoded = input.slice(comma + 1);
  const bytes = new Uint8Array(encoded.length);
  for (let i = 0; i < encoded.length; i++) bytes[i] = encoded.charCodeAt(i);
  let body = percentDecodeBytes(bytes);
  if (BASE64_SUFFIX.test(mimeType)) {
    mimeType = mimeType.replace(BASE64_SUFFIX, '');
    let text = '';
    // Isomorphic decode, in pieces (String.fromCharCode takes its bytes as arguments).
    for (let i = 0; i < body.length; i += 8192) text += String.fromCharCode(...body.subarray(i, i + 8192));
    let decoded: string;
    try {
      decoded = atob(text);
    } catch {
      return null;
    }
    body = new Uint8Array(decoded.length);
    for (let i = 0; i < decoded.length; i++) body[i] = decoded.charCodeAt(i);
  }
  if (mimeType.startsWith(';')) mimeType = `text/plain${mimeType}`;
  const parsed = parseMimeType(mimeType);
  return { mimeType: parsed ? serializeMimeType(parsed) : 'text/plain;charset=US-ASCII', body };
}
