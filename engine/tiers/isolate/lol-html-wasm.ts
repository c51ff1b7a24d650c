// lol-html for HTMLRewriter (runtime-api/html/): the glue's script and the module's bytes, which
// an isolate asks for the first time its tenant uses HTMLRewriter. Kept as one ExternalCopy per
// process, made beside the first isolate's boot (the script is built asynchronously; the
// isolate's call is synchronous): each isolate that asks gets its own copy of the ~0.9 MB.
import ivm from 'isolated-vm';
import { lolHtmlGlueScript, lolHtmlModule } from '../../bundle/lol-html-glue.ts';

/** CPU a first HTMLRewriter's load may use uncharged (it takes ~30–50 ms; more on a loaded machine). */
export const LOL_HTML_LOAD_ALLOWANCE_NS = 250e6;

let glue: Promise<ivm.ExternalCopy<[string, ArrayBuffer]>> | undefined;
let ready: ivm.ExternalCopy<[string, ArrayBuffer]> | undefined;

/** Builds the glue's script once per process; isolates may ask for it once this has resolved. */
export function prepareLolHtml(): Promise<unknown> {
  glue ??= lolHtmlGlueScript().then((source) => {
    ready = new ivm.ExternalCopy<[string, ArrayBuffer]>([source, lolHtmlModule().buffer as ArrayBuffer]);
    return ready;
  });
  return glue;
}

export function lolHtmlForIsolate(): ivm.ExternalCopy<[string, ArrayBuffer]> {
  if (ready === undefined) throw new Error('HTMLRewriter is not ready in this engine yet (lol-html is being prepared)');
  return ready;
}
