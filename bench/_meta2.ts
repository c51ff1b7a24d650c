import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
const ENTRY = fileURLToPath(new URL('../runtime-api/index.ts', import.meta.url));
const src = await readFile(fileURLToPath(new URL('../engine/bundle/runtime-bundle.ts', import.meta.url)), 'utf8');
// reuse plugins by evaluating the module and grabbing build options is awkward; rebuild quickly without plugins except the essentials
const r = await esbuild.build({ entryPoints: [ENTRY], bundle: true, write: false, format: 'iife', platform: 'neutral', target: 'es2024', mainFields: ['module','main'], minify: true, keepNames: true, metafile: true, logLevel: 'silent',
  plugins: [{ name: 'x', setup(b) { b.onResolve({ filter: /^@exodus\/bytes\/encoding\.js$/ }, (a) => ({ path: a.path, namespace: 'e' })); b.onLoad({ filter: /.*/, namespace: 'e' }, () => ({ contents: '' })); b.onResolve({ filter: /^tr46$/ }, () => ({ path: fileURLToPath(new URL('../runtime-api/url/idna.ts', import.meta.url)) })); } }] });
const out = Object.values(r.metafile!.outputs)[0]!;
const byPkg = new Map<string, number>();
for (const [file, info] of Object.entries(out.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  const key = m ? m[1]! : file.split('/').slice(0, 2).join('/');
  byPkg.set(key, (byPkg.get(key) ?? 0) + info.bytesInOutput);
}
for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(k.padEnd(40), (v / 1024).toFixed(1), 'KB');
