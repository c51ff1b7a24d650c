// HTMLRewriter in an isolate, made on the first use of the global: the host hands over a script
// (glue-entry.ts and html-rewriter-wasm's glue, ~35 KB) and lol-html's module, and the script is
// evaluated with the eval taken here before any tenant code ran. Until then an isolate holds none
// of it. The host does not charge the load (up to a bound) from handing them over until `ready`.
import { host } from '../host/host-calls.ts';
import { wasmIntrinsics } from '../host/webassembly.ts';
import { TextDecoder, TextEncoder } from '../web/index.ts';
import type { HtmlRewriterDeps } from './html-rewriter.ts';

/** What the glue's requires of Node's util, path and fs (and WebAssembly's constructors) give in an isolate. */
export interface GlueImports {
  TextDecoder: unknown;
  TextEncoder: unknown;
  join(...parts: string[]): string;
  readFileSync(): Uint8Array;
  WasmModule: unknown;
  WasmInstance: unknown;
}

type GlueScript = (imports: GlueImports) => typeof import('./glue-entry.ts');

const evaluate = globalThis.eval;

export function isolateHTMLRewriter(deps: Omit<HtmlRewriterDeps, 'lolHtml' | 'moreLolHtml'>): unknown {
  const ready = () => host().htmlRewriterReady();
  try {
    const [source, bytes] = host().htmlRewriterGlue();
    const { Module, Instance } = wasmIntrinsics();
    const script = evaluate(source) as GlueScript;
    // Every instance of the module is made from the one compiled module (V8 shares its code,
    // warmed by the first instance): each evaluation of the script is a new glue and instance.
    let compiled: object | undefined;
    const imports: GlueImports = {
      TextDecoder,
      TextEncoder,
      // path.join, for the one path the glue makes: the name of its .wasm file, which is not read.
      join: (...parts) => parts.join('/'),
      readFileSync: () => new Uint8Array(bytes),
      WasmModule: function WasmModule(source: Uint8Array) {
        compiled ??= new Module(source);
        return compiled;
      },
      WasmInstance: Instance,
    };
    return script(imports).makeHTMLRewriter(deps, ready, () => script(imports).glue());
  } catch (err) {
    ready();
    throw err;
  }
}
