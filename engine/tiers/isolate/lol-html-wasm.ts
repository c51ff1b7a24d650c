// The bytes of lol-html's WebAssembly module, which an isolate asks for the first time its tenant
// uses HTMLRewriter (runtime-api/html/). Kept as one ExternalCopy per process: each isolate that
// asks gets its own copy of the ~0.9 MB and compiles it.
import ivm from 'isolated-vm';
import { lolHtmlModule } from '../../bundle/lol-html-glue.ts';

/** CPU a first HTMLRewriter's load may use uncharged (it takes ~30–50 ms; more on a loaded machine). */
export const LOL_HTML_LOAD_ALLOWANCE_NS = 250e6;

let bytes: ivm.ExternalCopy<ArrayBuffer> | undefined;

export function lolHtmlWasm(): ivm.ExternalCopy<ArrayBuffer> {
  bytes ??= new ivm.ExternalCopy(lolHtmlModule().slice().buffer as ArrayBuffer);
  return bytes;
}
