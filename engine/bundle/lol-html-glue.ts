// lol-html for HTMLRewriter (runtime-api/html/): the npm package html-rewriter-wasm's module and
// glue, made fit for islet's two runtimes. The glue is written for Node: it requires util
// (TextDecoder, TextEncoder), assert, path and fs (to read its .wasm file beside it), some with
// String.raw`` specifiers esbuild does not follow, and names __dirname. Each build points util,
// path and fs at a module of its own (the isolate's glue script at its argument, a process
// sandbox's runtime at Node's encoders and the file beside it) and assert at a small module here,
// which the glue calls as a function.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { LOL_HTML_MAX_MB } from '../../runtime-api/html/html-rewriter.ts';
import { ownFile } from '../own-file.ts';
import { ISOLATE_SCRIPT } from './runtime-bundle.ts';
import { pollutionSafeHelpers } from './prototype-pollution.ts';

const GLUE_FILE = /[\\/]html-rewriter-wasm[\\/]dist[\\/](html_rewriter|asyncify)\.js$/;
const ASSERT = `function assert(ok, message) { if (!ok) throw new Error(message || 'lol-html: assertion failed'); }
assert.strictEqual = (actual, expected, message) => assert(actual === expected, message);
module.exports = assert;`;

/** Points the glue's Node requires at `importsFile` (util, path, fs) and a bundled assert. */
export function lolHtmlGlue(importsFile: string): esbuild.Plugin {
  return {
    name: 'islet-lol-html-glue',
    setup(build) {
      build.onLoad({ filter: GLUE_FILE }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        const plain = source.replace(/require\(String\.raw`([^`]+)`\)/g, (_, name: string) => `require(${JSON.stringify(name)})`).replace(/\b__dirname\b/g, '""');
        if (!args.path.endsWith('html_rewriter.js')) return { contents: plain, loader: 'js' };
        // The module is made with the constructors the runtime took before tenant code ran, not
        // with whatever the global WebAssembly holds by then (a tenant's, or islet's refusal).
        const intrinsic = plain
          .replace('new WebAssembly.Module(bytes)', 'new (require("fs").WasmModule)(bytes)')
          .replace('new WebAssembly.Instance(wasmModule, imports)', 'new (require("fs").WasmInstance)(wasmModule, imports)');
        // A glue that no longer loads its module this way needs this plugin looked at again.
        if (!/require\('fs'\)\.readFileSync/.test(intrinsic) || /\bWebAssembly\./.test(intrinsic)) {
          throw new Error(`${args.path}: the module loading islet replaces was not found`);
        }
        return { contents: intrinsic, loader: 'js' };
      });
      build.onResolve({ filter: /^(util|path|fs|assert)$/ }, (args) => {
        if (!GLUE_FILE.test(args.importer)) return undefined;
        return args.path === 'assert' ? { path: 'assert', namespace: 'islet-lol-html-assert' } : { path: importsFile };
      });
      build.onLoad({ filter: /.*/, namespace: 'islet-lol-html-assert' }, () => ({ contents: ASSERT, loader: 'js' }));
    },
  };
}

const SCRIPT_IMPORTS = fileURLToPath(ownFile('./lol-html-glue-imports', import.meta.url));
const SCRIPT_ENTRY = fileURLToPath(ownFile('../../runtime-api/html/glue-entry', import.meta.url));

/**
 * HTMLRewriter for isolates as one script whose value is a function of its imports
 * (runtime-api/html/isolate-html-rewriter.ts), evaluated in an isolate on its first use.
 */
export async function lolHtmlGlueScript(): Promise<string> {
  const result = await esbuild.build({ ...ISOLATE_SCRIPT, entryPoints: [SCRIPT_ENTRY], format: 'cjs', plugins: [lolHtmlGlue(SCRIPT_IMPORTS)] });
  if (!result.outputFiles) throw new Error('the glue script was not built');
  // Evaluated on a tenant's first HTMLRewriter, so after its code ran: esbuild's helpers must not
  // be misled by Object.prototype (prototype-pollution.ts).
  return `(function (__islet_glue_imports) { var module = { exports: {} }; var exports = module.exports;\n${pollutionSafeHelpers(result.outputFiles[0]!.text)}\nreturn module.exports; })`;
}

const WASM_PAGE = 65536;
let moduleBytes: Uint8Array | undefined;

/** The module's bytes, read once per process, with its memory bounded to LOL_HTML_MAX_MB. */
export function lolHtmlModule(): Uint8Array {
  moduleBytes ??= withMemoryMaximum(
    readFileSync(createRequire(import.meta.url).resolve('html-rewriter-wasm/dist/html_rewriter_bg.wasm')),
    (LOL_HTML_MAX_MB * 1048576) / WASM_PAGE,
  );
  return moduleBytes;
}

/**
 * `module` with its own memory given a maximum of `pages` (the module declares none, so it may grow
 * to 4 GB, and in an isolate its memory counts towards no limit). Past the maximum its allocator
 * fails and the module traps, which the runtime turns into an error for that document.
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
    const start = at;
    const id = module[at++]!;
    const size = leb();
    const payload = at;
    if (id === 5) {
      if (leb() !== 1) break;
      const flags = module[at++]!;
      if (flags !== 0 && flags !== 1) break; // shared or 64-bit memory: not what this module has
      const min = leb();
      const max = Math.min(flags === 1 ? leb() : Infinity, pages);
      if (min > max) throw new Error(`lol-html's module needs ${min} pages of memory, more than the ${pages} allowed`);
      const body = [1, 1, ...encodeLeb(min), ...encodeLeb(max)];
      const section = [5, ...encodeLeb(body.length), ...body];
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
