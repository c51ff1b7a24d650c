// A fast path for whatwg-url's urlencoded string parser, behind `url.searchParams`, `new
// URLSearchParams(string)` and the `search` and `href` setters.
//
// The standard's steps encode the whole string as UTF-8, split and slice the bytes, and for every
// name and value replace "+" by a space, percent-decode and decode UTF-8 again: in a cold isolate
// (README, "Load spread over many functions") a dozen interpreted calls per pair. For a string
// with no "%" that is well-formed UTF-16 (no lone surrogate), percent-decoding changes nothing and
// the UTF-8 round trip is the identity, so the steps reduce to splitting the string and turning
// "+" into spaces. Any other string goes to whatwg-url; the test beside this file compares both.

export type Pairs = [name: string, value: string][];

/** The name-value pairs of `input`, or null when it needs the full parser (it has "%" or a lone surrogate). */
export function fastParseUrlencodedString(input: string): Pairs | null {
  if (input.includes('%') || !input.isWellFormed()) return null;
  const output: Pairs = [];
  let start = 0;
  while (start <= input.length) {
    let end = input.indexOf('&', start);
    if (end < 0) end = input.length;
    if (end > start) {
      const sequence = input.slice(start, end);
      const equals = sequence.indexOf('=');
      const name = equals < 0 ? sequence : sequence.slice(0, equals);
      const value = equals < 0 ? '' : sequence.slice(equals + 1);
      output.push([name.replaceAll('+', ' '), value.replaceAll('+', ' ')]);
    }
    start = end + 1;
  }
  return output;
}

/** What islet uses of whatwg-url's urlencoded module. */
export interface UrlencodedModule {
  parseUrlencodedString(input: string): Pairs;
}

/**
 * Routes whatwg-url's urlencoded string parser through the fast path: `module` is its urlencoded
 * module, which URL and URLSearchParams call through the module object.
 */
export function installFastUrlencoded(module: UrlencodedModule): void {
  const full = module.parseUrlencodedString;
  module.parseUrlencodedString = function parseUrlencodedString(input) {
    return fastParseUrlencodedString(input) ?? full(input);
  };
}
