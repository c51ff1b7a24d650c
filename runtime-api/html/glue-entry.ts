// The script an isolate evaluates on its first use of HTMLRewriter, built by the host
// (engine/bundle/lol-html-glue.ts) with html-rewriter-wasm's glue in it: none of this is part of
// the runtime every isolate holds (isolate-html-rewriter.ts).
import { defineHTMLRewriter, type HtmlRewriterDeps } from './html-rewriter.ts';
import { lolHtmlLoader, type Glue } from './lol-html.ts';

/** The HTMLRewriter class, with lol-html compiled and warmed now; `loaded` is called once it is. */
export function makeHTMLRewriter(deps: Omit<HtmlRewriterDeps, 'lolHtml'>, loaded: () => void): unknown {
  const lolHtml = lolHtmlLoader(() => require('html-rewriter-wasm') as Glue, loaded);
  lolHtml();
  return defineHTMLRewriter({ ...deps, lolHtml }).HTMLRewriter;
}
