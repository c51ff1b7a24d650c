// Inside the glue script built for isolates (lol-html-glue.ts): what its requires of util, path
// and fs give, taken from the argument the script's function is called with
// (runtime-api/html/isolate-html-rewriter.ts makes it).
import type { GlueImports } from '../../runtime-api/html/isolate-html-rewriter.ts';

declare const __islet_glue_imports: GlueImports;

export const { TextDecoder, TextEncoder, join, readFileSync, WasmModule, WasmInstance } = __islet_glue_imports;
