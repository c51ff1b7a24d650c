// UTS #46 ToASCII as whatwg-url calls it. The URL standard's own shortcut (§3.5 "domain to
// ASCII", step 1) covers almost every host an edge function sees: with beStrict false, an ASCII
// domain none of whose labels starts with "xn--" maps to its ASCII lowercase. The rest — an
// internationalized or punycode domain — goes to the host, whose Node implements the same
// algorithm (url.domainToASCII). That keeps tr46's Unicode tables (hundreds of KB of source,
// megabytes of heap once evaluated) out of every isolate.
import { host } from '../host/host-calls.ts';

interface Tr46Options {
  useSTD3ASCIIRules?: boolean;
  [option: string]: unknown;
}

const NON_ASCII = /[^\x00-\x7f]/;
const PUNYCODE_LABEL = /(?:^|\.)xn--/i;

export function toASCII(domain: string, options: Tr46Options): string | null {
  if (!NON_ASCII.test(domain) && !PUNYCODE_LABEL.test(domain)) return domain.toLowerCase();
  // whatwg-url asks for strict processing (useSTD3ASCIIRules) only to report validation
  // errors, which the URL API never exposes; the host applies the URL parser's options.
  void options;
  return host().domainToASCII(domain);
}
