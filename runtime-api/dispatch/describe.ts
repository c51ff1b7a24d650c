// How a value a tenant threw (or returned instead of a Response) is named in an error message,
// the same on every tier: the isolate's runtime and the process tiers' runtime both use this.
// It never calls the value's own methods, which may throw or lie, and what it makes is cut
// before it leaves: in an isolate, whatever text goes to the host is copied whole before the host
// can refuse it, and a tenant can make a 512 MB string for almost nothing ('x'.repeat(2 ** 29)).
// So the built-ins it calls are the ones there were when the runtime loaded (a tenant's String,
// JSON.stringify or Object.prototype.toString could answer with anything).
import { plainArray } from '../web/plain-bytes.ts';

const { apply } = Reflect;
const { slice } = String.prototype;
const { toString: objectToString } = Object.prototype;
const { stringify } = JSON;
const StringOf = String;

/** `text` cut to at most `max` characters, with String.prototype.slice as it was at load. */
export function cut(text: string, max: number): string {
  return text.length > max ? apply(slice, text, [0, max]) as string : text;
}

/** The most of a description of a thrown value (a Symbol.toStringTag can be any string). */
const DESCRIPTION_CHARS = 256;

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object' || typeof value === 'function') return cut(`an object (${apply(objectToString, value, []) as string})`, DESCRIPTION_CHARS);
  if (typeof value === 'string') return `the string ${stringify(cut(value, 40)) as string}`;
  // Template literals turn numbers, booleans, bigints and undefined into strings without calling
  // anything a tenant can replace; a symbol takes String itself.
  return cut(typeof value === 'symbol' ? StringOf(value) : `${value as string}`, DESCRIPTION_CHARS);
}

/** The host keeps 16 KB of a message or stack (THROWN_TEXT_CHARS); more would only be copied out to be cut. */
const NAME_CHARS = 1024;
const TEXT_CHARS = 32 * 1024;

/**
 * [name, message, stack] of what the tenant threw, each cut. Reading it runs the tenant's code
 * (getters, a Proxy's traps), which may throw in turn: that must not escape, or the request never
 * answers.
 */
export function describeThrown(err: unknown): [name: string, message: string, stack: string] {
  // Read by index by its callers, and without a prototype: it is copied to the host as it is (a cron
  // run's answer), where a tenant's Array.prototype.then or index setter would otherwise apply.
  return plainArray(describeThrownTexts(err)) as [string, string, string];
}

function describeThrownTexts(err: unknown): [name: string, message: string, stack: string] {
  try {
    if (err instanceof Error) {
      // Template literals make primitive strings whatever String or an object's toString became;
      // the cut uses the slice captured at load. A tenant's replaced String sent its own object,
      // 150 references to a 4 MB string, to the host as an error's name.
      const name = cut(`${err.name}`, NAME_CHARS);
      const message = cut(`${err.message}`, TEXT_CHARS);
      const given: unknown = err.stack;
      const stack = cut(typeof given === 'string' ? given : `${name}: ${message}`, TEXT_CHARS);
      return [name, message, stack];
    }
    const message = `Uncaught ${describe(err)}`;
    return ['Error', message, `Error: ${message}`];
  } catch {
    return ['Error', 'Uncaught exception (reading what was thrown threw again)', 'Error: Uncaught exception'];
  }
}
