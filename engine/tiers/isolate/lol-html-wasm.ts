// The bytes of lol-html's WebAssembly module (npm html-rewriter-wasm), which an isolate asks for
// the first time its tenant uses HTMLRewriter (runtime-api/html/). Read once per process and kept
// as an ExternalCopy: each isolate that asks gets its own copy of the ~0.9 MB and compiles it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import ivm from 'isolated-vm';
import { LOL_HTML_MAX_MB } from '../../../runtime-api/html/html-rewriter.ts';

/** CPU a first HTMLRewriter's load may use uncharged (it takes ~50 ms; more on a loaded machine). */
export const LOL_HTML_LOAD_ALLOWANCE_NS = 250e6;

const WASM_PAGE = 65536;

let bytes: ivm.ExternalCopy<ArrayBuffer> | undefined;

export function lolHtmlWasm(): ivm.ExternalCopy<ArrayBuffer> {
  if (bytes === undefined) {
    const file = readFileSync(createRequire(import.meta.url).resolve('html-rewriter-wasm/dist/html_rewriter_bg.wasm'));
    bytes = new ivm.ExternalCopy(withMemoryMaximum(file, (LOL_HTML_MAX_MB * 1048576) / WASM_PAGE).buffer as ArrayBuffer);
  }
  return bytes;
}

/**
 * `module` with its own memory given a maximum of `pages` (the module declares none, so it may grow
 * to 4 GB, and its memory counts towards no isolate's limit). Past the maximum its allocator fails
 * and the module traps, which the runtime turns into an error for that document.
 */
export function withMemoryMaximum(module: Uint8Array, pages: number): Uint8Array {
  let at = 8; // magic and version
  const leb = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = module[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < module.length) {
    const id = module[at++]!;
    const start = at - 1;
    const size = leb();
    const payload = at;
    if (id === 5) {
      if (leb() !== 1) break;
      const flags = module[at++]!;
      if (flags !== 0 && flags !== 1) break; // shared or 64-bit memory: not what this module has
      const min = leb();
      const max = Math.min(flags === 1 ? leb() : Infinity, pages);
      if (min > max) throw new Error(`lol-html's module needs ${min} pages of memory, more than the ${pages} allowed`);
      const section = [5, ...encodeLeb(1 + 1 + encodeLeb(min).length + encodeLeb(max).length), 1, 1, ...encodeLeb(min), ...encodeLeb(max)];
      const out = new Uint8Array(module.length - (payload + size - start) + section.length);
      out.set(module.subarray(0, start));
      out.set(section, start);
      out.set(module.subarray(payload + size), start + section.length);
      return out;
    }
    at = payload + size;
  }
  throw new Error("lol-html's module has no memory of its own to bound");
}

function encodeLeb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}
