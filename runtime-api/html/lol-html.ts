// lol-html as html-rewriter-wasm builds it, loaded on first use. The package's glue is written for
// Node (it requires util, assert, path and fs to read its .wasm file); engine/bundle/lol-html-glue.ts
// makes it fit each runtime: an isolate is handed the glue's source and the module's bytes by the
// host on first use (so the glue is no part of the runtime every isolate holds), a process sandbox
// has both in its runtime file and beside it. Evaluating the glue compiles and instantiates the module.
import type { LolHtml, LolHtmlRewriter } from './html-rewriter.ts';

/** What the glue exports. */
export interface Glue {
  HTMLRewriter: new (sink: (chunk: Uint8Array) => void) => LolHtmlRewriter;
  __wasm: { memory: { buffer: ArrayBuffer } };
}

// V8 compiles a WebAssembly function on its first call: a document that takes the common paths
// (selectors, attributes, text, comments, every kind of insertion) compiles them here, inside the
// load the host does not charge, rather than in the tenant's first transform (~17 ms of the ~50).
const WARM_UP = '<!DOCTYPE html><html lang="en"><head><title>t &amp; t</title></head><body class="a">'
  + '<!-- c --><p id="p" class="x">text <b>bold</b> more</p><a href="/r">r</a><img src="i"><br/><ul><li>1</li></ul></body></html>';

/** A loader that gets the glue and warms the module once, then calls `loaded` (even if it failed). */
export function lolHtmlLoader(getGlue: () => Glue, loaded: () => void): () => LolHtml {
  let lolHtml: LolHtml | undefined;
  return () => {
    if (lolHtml === undefined) {
      try {
        const glue = getGlue();
        warmUp(glue);
        lolHtml = lolHtmlOf(glue);
      } finally {
        loaded();
      }
    }
    return lolHtml;
  };
}

/** What the rewriter needs of one instance of the glue. */
export function lolHtmlOf(glue: Glue): LolHtml {
  return { HTMLRewriter: glue.HTMLRewriter, memoryBytes: () => glue.__wasm.memory.buffer.byteLength };
}

function warmUp(glue: Glue): void {
  const rewriter = new glue.HTMLRewriter(() => {});
  rewriter
      .on('a[href^="/"], p.x > b, #p, li:nth-child(1), *', {
        element(el: { setAttribute(n: string, v: string): void; before(c: string, o?: object): void; append(c: string): void; onEndTag(h: (e: { after(c: string): void }) => void): void }) {
          el.setAttribute('data-w', '1');
          el.before('<i>w</i>', { html: true });
          el.append('w');
          el.onEndTag((end) => end.after('w'));
        },
        text(t: { text: string; replace(c: string): void }) {
          if (t.text) t.replace(t.text);
        },
        comments(c: { remove(): void }) {
          c.remove();
        },
      })
      .onDocument({ doctype() {}, end(end: { append(c: string, o?: object): void }) { end.append('<!-- w -->', { html: true }); } });
  // The handlers are synchronous, so the module's work is done before write and end return their
  // promises; the rewriter is borrowed until those settle, and freed then.
  const written = rewriter.write(new TextEncoder().encode(WARM_UP));
  written.then(() => rewriter.end()).then(() => rewriter.free(), () => rewriter.free());
}
