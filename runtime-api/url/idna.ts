// UTS #46 ToASCII as whatwg-url calls it, behind the URL standard's own shortcut (§3.5 "domain to
// ASCII", step 1): with beStrict false, an ASCII domain none of whose labels starts with "xn--"
// maps to its ASCII lowercase. Almost every host an edge function sees takes that path, so tr46's
// Unicode tables (about 4 MB of heap once evaluated) are only loaded by an isolate that meets an
// internationalized domain name.
interface Tr46Options {
  useSTD3ASCIIRules?: boolean;
  [option: string]: unknown;
}

interface Tr46 {
  toASCII(domain: string, options: Tr46Options): string | null;
  toUnicode(domain: string, options: Tr46Options): { domain: string; error: boolean };
}

let tr46: Tr46 | undefined;

// esbuild bundles a require() in place and evaluates the module on the first call.
function load(): Tr46 {
  tr46 ??= require('tr46/index.js') as Tr46;
  return tr46;
}

const NON_ASCII = /[^\x00-\x7f]/;
const PUNYCODE_LABEL = /(?:^|\.)xn--/i;

export function toASCII(domain: string, options: Tr46Options): string | null {
  if (!options.useSTD3ASCIIRules && !NON_ASCII.test(domain) && !PUNYCODE_LABEL.test(domain)) {
    return domain.toLowerCase();
  }
  return load().toASCII(domain, options);
}

export function toUnicode(domain: string, options: Tr46Options): { domain: string; error: boolean } {
  return load().toUnicode(domain, options);
}
