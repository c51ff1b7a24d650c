// Header values between HTTP and an isolate. On the host, as in Node and undici and on the wire, a
// header value is bytes, one character a byte (Latin-1). Tenant code reads and writes them as
// workerd has them: text, UTF-8 on the wire (`é€` goes out as C3 A9 E2 82 AC; a byte that is no
// UTF-8 comes in as U+FFFD). So values that are not ASCII are decoded as they go into an isolate
// and encoded as they come out of it, here at the isolate tier's edge; the process tiers run
// Node's own Headers, whose values are those bytes. Most values are ASCII, passed as they are.

import { NON_ASCII } from '../../wire.ts';

/** Flat [name, value, …] headers from the host with values read as UTF-8; the same array when all are ASCII. */
export function headerValuesAsText(flat: string[]): string[] {
  let out = flat;
  for (let i = 1; i < flat.length; i += 2) {
    const value = flat[i]!;
    if (!NON_ASCII.test(value)) continue;
    if (out === flat) out = flat.slice();
    out[i] = Buffer.from(value, 'latin1').toString('utf8');
  }
  return out;
}

/** A subrequest's or WebSocket handshake's headers as the isolate gave them: strings, values as UTF-8 bytes. */
export function outboundHeaders(headers: unknown): string[] {
  return headerValuesAsBytes(Array.isArray(headers) ? headers.map(String) : []);
}

/**
 * Flat headers from an isolate with values made UTF-8 bytes (a lone surrogate as U+FFFD's);
 * anything that is not a flat list of strings is returned as it is, for the checks after this to
 * refuse.
 */
export function headerValuesAsBytes<T>(flat: T): T {
  if (!Array.isArray(flat)) return flat;
  let out: unknown[] = flat;
  for (let i = 1; i < flat.length; i += 2) {
    const value: unknown = flat[i];
    if (typeof value !== 'string' || !NON_ASCII.test(value)) continue;
    if (out === flat) out = flat.slice();
    out[i] = Buffer.from(value, 'utf8').toString('latin1');
  }
  return out as T;
}
