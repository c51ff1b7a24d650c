// Whether, and for how long, a response given to cache.put() is kept: Cloudflare's rules for its
// Cache API, which are a shared cache's (RFC 9111 §3, §4.2.1) plus its defaults by status code
// when the response states no lifetime. A small parser instead of a library: the library worth
// having (http-cache-semantics) implements a browser's and a proxy's heuristics, not these rules,
// and what is shared is splitting one header into directives.
import { parseHttpDate } from './http-date.ts';

/** Cache-Control directives by lower-case name; a value without `=` is true. */
export type Directives = Map<string, string | true>;

/** Splits Cache-Control into directives; quoted values may hold commas (`private="a, b"`). */
export function parseCacheControl(value: string): Directives {
  const directives: Directives = new Map();
  let i = 0;
  while (i < value.length) {
    const end = nextDelimiter(value, i, ',=');
    const name = value.slice(i, end).trim().toLowerCase();
    let directive: string | true = true;
    i = end;
    if (value[i] === '=') {
      i++;
      while (value[i] === ' ' || value[i] === '\t') i++;
      if (value[i] === '"') {
        let text = '';
        for (i++; i < value.length && value[i] !== '"'; i++) text += value[i] === '\\' && i + 1 < value.length ? value[++i] : value[i];
        directive = text;
        i = nextDelimiter(value, i + 1, ',');
      } else {
        const stop = nextDelimiter(value, i, ',');
        directive = value.slice(i, stop).trim();
        i = stop;
      }
    }
    i++;
    // The first of a repeated directive wins, as caches commonly do.
    if (name !== '' && !directives.has(name)) directives.set(name, directive);
  }
  return directives;
}

function nextDelimiter(value: string, from: number, delimiters: string): number {
  let i = from;
  while (i < value.length && !delimiters.includes(value[i]!)) i++;
  return i;
}

// Cloudflare's edge TTLs for responses that state none: other statuses are not kept.
const DEFAULT_TTL_S: ReadonlyMap<number, number> = new Map([
  [200, 7200], [206, 7200], [301, 7200], [302, 1200], [303, 1200], [404, 180], [410, 180],
]);

export type Storability = { store: true; ttlMs: number; dropHeaders: string[] } | { store: false; why: string };

/**
 * Whether a response with `status` and lower-case `headers` is kept by a shared cache, for how
 * long from `now` (ms since the epoch), and which headers it is kept without (`private=name`).
 */
export function storability(status: number, headers: ReadonlyMap<string, string>, now: number): Storability {
  const cc = parseCacheControl(headers.get('cache-control') ?? '');
  if (cc.has('no-store')) return { store: false, why: 'Cache-Control: no-store' };
  if (cc.has('no-cache')) return { store: false, why: 'Cache-Control: no-cache' };
  const privateFields = cc.get('private');
  if (privateFields === true) return { store: false, why: 'Cache-Control: private' };
  const dropHeaders = typeof privateFields === 'string' ? privateFields.split(',').map((f) => f.trim().toLowerCase()).filter((f) => f !== '') : [];
  // A cookie is one client's: kept only when the response says to keep it without.
  if (headers.has('set-cookie') && !dropHeaders.includes('set-cookie')) return { store: false, why: 'it sets a cookie (Set-Cookie)' };
  const lifetime = lifetimeS(cc, headers, now);
  // RFC 9111 §4.2.3: the response's age so far (Age, or how long ago its Date was) is spent.
  const ageS = currentAgeS(headers, now);
  if (lifetime === undefined) {
    const fallback = DEFAULT_TTL_S.get(status);
    if (fallback === undefined) return { store: false, why: `status ${status} is not cached without a Cache-Control max-age` };
    if (fallback - ageS <= 0) return { store: false, why: 'it is already stale' };
    return { store: true, ttlMs: (fallback - ageS) * 1000, dropHeaders };
  }
  const ttlS = lifetime - ageS;
  if (ttlS <= 0) return { store: false, why: 'it is already stale' };
  return { store: true, ttlMs: ttlS * 1000, dropHeaders };
}

/** The freshness lifetime the response states, in seconds (s-maxage, max-age, then Expires − Date), if any. */
function lifetimeS(cc: Directives, headers: ReadonlyMap<string, string>, now: number): number | undefined {
  for (const name of ['s-maxage', 'max-age']) {
    const value = cc.get(name);
    // RFC 9111 §1.2.2: delta-seconds; an invalid one makes the response stale.
    if (value !== undefined) return typeof value === 'string' && /^\d+$/.test(value) ? Math.min(Number(value), 2 ** 31) : 0;
  }
  const expires = headers.get('expires');
  if (expires === undefined) return undefined;
  const at = parseHttpDate(expires);
  if (Number.isNaN(at)) return 0; // §5.3: an invalid date means already expired
  const date = parseHttpDate(headers.get('date'));
  // §4.2.1: without a Date, the time it was received (now), whose age is then 0.
  return (at - (Number.isNaN(date) ? now : date)) / 1000;
}

/** §4.2.3 current_age, for a response received now: the larger of Age and now − Date. */
function currentAgeS(headers: ReadonlyMap<string, string>, now: number): number {
  const age = headers.get('age')?.trim();
  const ageS = age !== undefined && /^\d+$/.test(age) ? Number(age) : 0;
  const date = parseHttpDate(headers.get('date'));
  const apparentS = Number.isNaN(date) ? 0 : Math.max(0, (now - date) / 1000);
  return Math.max(ageS, apparentS);
}
