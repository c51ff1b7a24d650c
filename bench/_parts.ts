import ivm from 'isolated-vm';
import * as esbuild from 'esbuild';
const entries: Record<string, string> = {
  whatwgurl: `import { URL, URLSearchParams } from 'whatwg-url'; globalThis.URL = URL; globalThis.URLSearchParams = URLSearchParams;`,
  streams: `import * as s from 'web-streams-polyfill'; globalThis.S = s;`,
  urlpattern: `import { URLPattern } from 'urlpattern-polyfill/urlpattern'; globalThis.P = URLPattern;`,
};
async function used(code: string) {
  const iso = new ivm.Isolate({ memoryLimit: 128 });
  const ctx = await iso.createContext();
  await ctx.eval(`globalThis.TextEncoder = class { encode() { return new Uint8Array(0); } }; globalThis.TextDecoder = class { decode() { return ''; } };`);
  const base = (await iso.getHeapStatistics()).used_heap_size;
  await (await iso.compileScript(code)).run(ctx);
  // settle lazy stuff
  const after = (await iso.getHeapStatistics()).used_heap_size;
  iso.dispose();
  return ((after - base) / 1024).toFixed(0);
}
for (const [name, src] of Object.entries(entries)) {
  const out = await esbuild.build({ stdin: { contents: src, resolveDir: process.cwd() }, bundle: true, format: 'iife', minify: true, write: false, platform: 'neutral', mainFields: ['module', 'main'] });
  const code = out.outputFiles[0]!.text;
  console.log(name, 'source KB', (code.length / 1024).toFixed(0), 'heap KB', await used(code));
}
const { runtimeScript } = await import('../engine/bundle/index.ts');
const rt = await runtimeScript();
console.log('runtime', 'source KB', (rt.length / 1024).toFixed(0), 'heap KB', await used(rt));
process.exit(0);
