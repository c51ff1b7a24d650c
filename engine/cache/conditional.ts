// Conditional and range requests answered from a kept response, as a cache answers them
// (RFC 9110 §13.1.2, §13.1.3, §13.1.5, §14.1.2): cache.match() with If-None-Match,
// If-Modified-Since, Range and If-Range in the request's headers.
import { parseHttpDate } from './http-date.ts';

const ENTITY_TAG = /(W\/)?"[^"]*"/g;

/** The entity tags of a list (`"a", W/"b,c"`), commas inside quotes included. */
function entityTags(list: string): string[] {
  return list.match(ENTITY_TAG) ?? [];
}

/** True when the request's validators say its copy is current: the answer is 304. */
export function notModified(asked: ReadonlyMap<string, string>, stored: ReadonlyMap<string, string>): boolean {
  const ifNoneMatch = asked.get('if-none-match');
  if (ifNoneMatch !== undefined) {
    // §13.1.2: weak comparison; If-Modified-Since is ignored when If-None-Match is present.
    const etag = stored.get('etag');
    if (ifNoneMatch.trim() === '*') return true;
    if (etag === undefined) return false;
    const opaque = (tag: string) => tag.replace(/^W\//, '');
    return entityTags(ifNoneMatch).some((tag) => opaque(tag) === opaque(etag.trim()));
  }
  // §13.1.3: a value that is not an HTTP-date is ignored.
  const since = parseHttpDate(asked.get('if-modified-since'));
  const modified = parseHttpDate(stored.get('last-modified'));
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}

/**
 * §13.1.5: with If-Range, a Range applies only while the kept response is the one the client
 * has — a strong match of its entity tag, or exactly its Last-Modified date — else the whole.
 */
export function rangeStillApplies(asked: ReadonlyMap<string, string>, stored: ReadonlyMap<string, string>): boolean {
  const ifRange = asked.get('if-range')?.trim();
  if (ifRange === undefined) return true;
  if (ifRange.startsWith('"') || ifRange.startsWith('W/')) {
    const etag = stored.get('etag')?.trim();
    return !ifRange.startsWith('W/') && etag !== undefined && !etag.startsWith('W/') && etag === ifRange;
  }
  const date = parseHttpDate(ifRange);
  return !Number.isNaN(date) && date === parseHttpDate(stored.get('last-modified'));
}

/**
 * The one byte range a Range header asks of a body of `length` bytes: inclusive offsets,
 * 'unsatisfiable' (416), or undefined to answer with the whole body (no Range, another unit,
 * several ranges, or a header that does not parse: §14.2 lets a server ignore it).
 */
export function byteRange(header: string | undefined, length: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    // A suffix: the last n bytes.
    const n = Number(m[2]);
    if (n === 0 || length === 0) return 'unsatisfiable';
    return { start: Math.max(0, length - n), end: length - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? length - 1 : Math.min(Number(m[2]), length - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= length) return 'unsatisfiable';
  return { start, end };
}
