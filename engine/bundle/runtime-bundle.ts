// The in-isolate runtime (runtime-api/) as one classic script, built once per process. It only
// defines classes and functions, so the same text can later go into a V8 startup snapshot.
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ENTRY = fileURLToPath(new URL('../../runtime-api/index.ts', import.meta.url));

let cached: Promise<string> | undefined;

export function runtimeScript(): Promise<string> {
  cached ??= esbuild
    .build({
      entryPoints: [ENTRY],
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'neutral',
      target: 'es2024',
      mainFields: ['module', 'main'],
      logLevel: 'silent',
      legalComments: 'none',
      charset: 'utf8',
      minifySyntax: true,
    })
    .then((r) => r.outputFiles[0]!.text);
  return cached;
}
