// The script an isolate evaluates on its first use of HTMLRewriter, built by the host
// (engine/bundle/lol-html-glue.ts) with html-rewriter-wasm's glue in it: none of this is part of
// the runtime every isolate holds (isolate-html-rewriter.ts).
import { defineHTMLRewriter, type HtmlRewriterDeps } from './html-rewriter.ts';
import { lolHtmlLoader, lolHtmlOf, type Glue } from './lol-html.ts';

/** This evaluation's glue: a new instance of the module, with its own memory and stack. */
export function glue(): Glue {
  return require('html-rewriter-wasm') as Glue;
}

/**
 * The HTMLRewriter class, with lol-html's first instance compiled and warmed now (`loaded` is
 * called once it is); `another` makes more instances (isolate-html-rewriter.ts).
 */
export function makeHTMLRewriter(deps: Omit<HtmlRewriterDeps, 'lolHtml' | 'moreLolHtml'>, loaded: () => void, another: () => Glue): unknown {
  const lolHtml = lolHtmlLoader(glue, loaded);
  lolHtml();
  return defineHTMLRewriter({ ...deps, lolHtml, moreLolHtml: () => lolHtmlOf(another()) }).HTMLRewriter;
}
