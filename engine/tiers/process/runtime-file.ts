// The in-sandbox runtime as one plain ES module, built once per process: Node strips types from
// a .ts file on every start (~40 ms here), while a prebuilt .mjs loads in a few.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { ownFile } from '../../own-file.ts';
import { lolHtmlGlue, lolHtmlModule } from '../../bundle/lol-html-glue.ts';

const ENTRY = fileURLToPath(ownFile('./sandbox-runtime', import.meta.url));
const LOL_HTML_IMPORTS = fileURLToPath(ownFile('./lol-html-imports', import.meta.url));

/** Written beside the runtime file: lol-html's module, for HTMLRewriter (lol-html-imports.ts). */
export const LOL_HTML_FILE = 'lol-html.wasm';

/** Writes the runtime to `dir`/runtime.mjs, and LOL_HTML_FILE beside it, and returns the runtime's path. */
export async function writeRuntimeFile(dir: string): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    logLevel: 'silent',
    legalComments: 'none',
    plugins: [lolHtmlGlue(LOL_HTML_IMPORTS)],
  });
  const file = path.join(dir, 'runtime.mjs');
  await writeFile(file, result.outputFiles[0]!.text);
  await writeFile(path.join(dir, LOL_HTML_FILE), lolHtmlModule());
  return file;
}
