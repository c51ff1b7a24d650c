// URLPattern from urlpattern-polyfill, with one fix the polyfill lacks: a URLPatternInit given to
// test() or exec() has its port canonicalized as the URL standard's port setter does (ASCII tab
// and newline removed, then the leading digits kept: "8\t0" and "80x" are port 80), which is what
// URLPattern §1.6 "canonicalize a port" asks for.
import { URLPattern as PolyfillURLPattern } from 'urlpattern-polyfill/urlpattern';
import { nullProto } from '../webidl/null-prototype.ts';

const TAB_OR_NEWLINE = /[\t\n\r]/g;
const LEADING_DIGITS = /^\d+/;
const INIT_MEMBERS = ['protocol', 'username', 'password', 'hostname', 'port', 'pathname', 'search', 'hash', 'baseURL'] as const;

function canonicalInput(input: unknown): unknown {
  if (input === null || typeof input !== 'object') return input;
  const port = (input as { port?: unknown }).port;
  if (typeof port !== 'string') return input;
  const digits = LEADING_DIGITS.exec(port.replace(TAB_OR_NEWLINE, ''));
  // No leading digit: not a port; the polyfill reports it as it would have.
  if (!digits) return input;
  // A dictionary, read member by member as WebIDL does (inherited members count too); the copy
  // has no prototype, so the polyfill finds in it only what was read.
  const init: Record<string, unknown> = nullProto({});
  for (const member of INIT_MEMBERS) {
    const value = (input as Record<string, unknown>)[member];
    if (value !== undefined) init[member] = value;
  }
  init.port = digits[0];
  return init;
}

export class URLPattern extends PolyfillURLPattern {
  override test(...args: unknown[]): boolean {
    if (args.length > 0) args[0] = canonicalInput(args[0]);
    return Reflect.apply(super.test, this, args) as boolean;
  }

  override exec(...args: unknown[]): ReturnType<PolyfillURLPattern['exec']> {
    const given = args[0];
    if (args.length > 0) args[0] = canonicalInput(given);
    const result = Reflect.apply(super.exec, this, args) as ReturnType<PolyfillURLPattern['exec']>;
    // The result's inputs are what the caller passed (§1.4 "create a match result"), not our copy.
    if (result && args[0] !== given) result.inputs[0] = given as never;
    return result;
  }
}
