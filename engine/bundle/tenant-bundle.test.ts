import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { BundleError } from '../errors.ts';
import { bundleEntry, bundleSource } from './index.ts';

// A WebAssembly module exporting add(i32, i32): i32.
const ADD_WASM = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00,
  0x07, 0x07, 0x01, 0x03, 0x61, 0x64, 0x64, 0x00, 0x00, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b,
]);

describe('tenant bundles', () => {
  it('as a script, evaluate to the module\'s exports, in strict mode, with top-level names kept local', async () => {
    const bundle = await bundleSource('const secret = 1; export const strict = (function () { return this === undefined; })(); export default { fetch() { return secret; } };', 'f', { format: 'script' });
    expect(bundle.format).toBe('script');
    const context = vm.createContext({});
    const exported = vm.runInContext(bundle.code, context);
    expect(exported.default.fetch()).toBe(1);
    expect(exported.strict).toBe(true);
    expect(vm.runInContext('typeof secret + typeof module + typeof exports', context)).toBe('undefinedundefinedundefined');
  });

  it('stay modules where only a module can say it: top-level await, import.meta', async () => {
    for (const source of ['const x = await Promise.resolve(1); export default { fetch: () => x };', 'export default { fetch: () => import.meta.url };']) {
      const bundle = await bundleSource(source, 'f', { format: 'script' });
      expect(bundle.format).toBe('module');
      expect(bundle.code).toContain('export {');
    }
    expect((await bundleSource('export default {}', 'f')).format).toBe('module');
  });

  it('replace process.env.NODE_ENV, which npm packages branch on, and leave no other `process` behind', async () => {
    const bundle = await bundleSource('export default { fetch: () => [process.env.NODE_ENV === "production" ? "lean" : "dev", typeof process] };', 'f', { format: 'script' });
    expect(vm.runInContext(bundle.code, vm.createContext({})).default.fetch()).toEqual(['lean', 'undefined']);
  });

  it("import text, data and WebAssembly files by Workers' default module rules", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'islet-rules-'));
    try {
      await writeFile(path.join(dir, 'note.txt'), 'a note');
      await writeFile(path.join(dir, 'page.html'), '<p>hi</p>');
      await writeFile(path.join(dir, 'schema.sql'), 'SELECT 1;');
      await writeFile(path.join(dir, 'data.bin'), Uint8Array.from([0, 1, 254, 255]));
      await writeFile(path.join(dir, 'add.wasm'), ADD_WASM);
      await writeFile(path.join(dir, 'text.js'), "import note from './note.txt'; import page from './page.html'; import schema from './schema.sql'; import data from './data.bin'; export default { note, page, schema, data };");
      const text = await bundleEntry(path.join(dir, 'text.js'), { format: 'script' });
      const exported = vm.runInContext(text.code, vm.createContext({ atob, Uint8Array })).default;
      expect([exported.note, exported.page, exported.schema, [...new Uint8Array(exported.data)], Object.prototype.toString.call(exported.data)]).toEqual(['a note', '<p>hi</p>', 'SELECT 1;', [0, 1, 254, 255], '[object ArrayBuffer]']);
      // CompiledWasm: on a tier with Node's WebAssembly, a Module; on the isolate tier, said so.
      await writeFile(path.join(dir, 'wasm.js'), "import mod from './add.wasm'; export default { add: new WebAssembly.Instance(mod).exports.add(2, 3) };");
      const wasm = await bundleEntry(path.join(dir, 'wasm.js'), { nodeBuiltins: true });
      await writeFile(path.join(dir, 'bundled.mjs'), wasm.code);
      expect((await import(pathToFileURL(path.join(dir, 'bundled.mjs')).href)).default.add).toBe(5);
      const refused = await bundleEntry(path.join(dir, 'wasm.js')).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(BundleError);
      expect((refused as BundleError).diagnostics.join()).toContain("importing a WebAssembly module (Workers' CompiledWasm rule) is not supported on the isolate tier");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("honour a package's browser map that leaves a Node built-in out, as wrangler's bundles do (crypto-js, qs)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'islet-browser-map-'));
    try {
      const lib = path.join(dir, 'node_modules', 'uses-crypto');
      await mkdir(lib, { recursive: true });
      await writeFile(path.join(lib, 'package.json'), JSON.stringify({ name: 'uses-crypto', main: 'index.js', browser: { crypto: false, './inspect.js': false } }));
      await writeFile(path.join(lib, 'index.js'), "const c = require('crypto'); const i = require('./inspect.js'); module.exports = { crypto: Object.keys(c).length, inspect: Object.keys(i).length };");
      await writeFile(path.join(lib, 'inspect.js'), "module.exports = require('util').inspect;");
      await writeFile(path.join(dir, 'worker.js'), "import lib from 'uses-crypto'; export default { lib };");
      const bundle = await bundleEntry(path.join(dir, 'worker.js'), { format: 'script' });
      expect(vm.runInContext(bundle.code, vm.createContext({})).default.lib).toEqual({ crypto: 0, inspect: 0 });
      // A built-in the code itself imports is still refused, with the way out.
      await writeFile(path.join(dir, 'fs.js'), "import fs from 'node:fs'; import http2 from 'http2'; export default { fs, http2 };");
      const refused = await bundleEntry(path.join(dir, 'fs.js')).catch((e: unknown) => e);
      expect((refused as BundleError).diagnostics.join()).toContain('Node built-in "node:fs" is not available in the isolate tier');
      // Names with digits too (http2, v8), which got esbuild's bare "Could not resolve".
      expect((refused as BundleError).diagnostics.join()).toContain('Node built-in "http2" is not available in the isolate tier');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('count the project configs esbuild reads as inputs, a tsconfig\'s base too, so that islet dev watches them', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'islet-configs-'));
    try {
      await mkdir(path.join(dir, 'app', 'src', 'lib'), { recursive: true });
      await writeFile(path.join(dir, 'tsconfig.base.json'), JSON.stringify({ compilerOptions: { paths: { '@lib/*': ['./app/src/lib/*'] } } }));
      await writeFile(path.join(dir, 'app', 'tsconfig.json'), '{\n  // shared settings\n  "extends": "../tsconfig.base"\n}');
      await writeFile(path.join(dir, 'app', 'package.json'), '{ "name": "app" }');
      await writeFile(path.join(dir, 'app', 'src', 'lib', 'word.ts'), 'export const word = "w";');
      await writeFile(path.join(dir, 'app', 'src', 'index.ts'), 'import { word } from "@lib/word"; export default { word };');
      const bundle = await bundleEntry(path.join(dir, 'app', 'src', 'index.ts'));
      // Before, only the two source files: an edit of an alias served the old code on.
      expect(bundle.inputs).toEqual(expect.arrayContaining([path.join(dir, 'app', 'tsconfig.json'), path.join(dir, 'tsconfig.base.json'), path.join(dir, 'app', 'package.json')]));
      // A build that fails names them too: the fix may be an alias added there.
      await writeFile(path.join(dir, 'app', 'src', 'index.ts'), 'import { word } from "@missing/word"; export default { word };');
      const failed = await bundleEntry(path.join(dir, 'app', 'src', 'index.ts')).catch((e: unknown) => e);
      expect((failed as BundleError).files).toEqual(expect.arrayContaining([path.join(dir, 'app', 'tsconfig.json'), path.join(dir, 'tsconfig.base.json')]));
      // Nothing above the project's package.json: a stray one in a home folder would have the
      // whole folder watched while the build is broken.
      await writeFile(path.join(dir, 'package.json'), '{}');
      expect((failed as BundleError).files.concat(bundle.inputs).every((f) => f.startsWith(dir))).toBe(true);
      const again = await bundleEntry(path.join(dir, 'app', 'src', 'index.ts')).catch((e: unknown) => e);
      expect((again as BundleError).files).not.toContain(path.join(dir, 'package.json'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('say plainly that an entry file does not exist', async () => {
    await expect(bundleEntry('/no/such/dir/worker.ts')).rejects.toThrow(/the entry file \/no\/such\/dir\/worker\.ts does not exist/);
  });

  it('as a script, keep a source map that points into the source', async () => {
    const bundle = await bundleSource('export default {\n  fetch() {\n    throw new Error("here");\n  }\n};', 'f', { format: 'script' });
    const map = JSON.parse(bundle.sourceMap!);
    expect(map.sources).toEqual(['f.ts']);
    expect(bundle.code.split('\n')[0]).toContain('"use strict"');
  });

  it('made from the same code under two names are the same bundle, each naming its own file', async () => {
    const source = 'export default function () { return new Response("x"); }';
    for (const format of ['script', 'module'] as const) {
      const [a, b] = await Promise.all([bundleSource(source, 'alpha', { format }), bundleSource(source, 'beta', { format })]);
      expect(b.code).toBe(a.code);
      expect([JSON.parse(a.sourceMap!).sources, JSON.parse(b.sourceMap!).sources]).toEqual([['alpha.ts'], ['beta.ts']]);
    }
    await expect(bundleSource('export default {\n  fetch() { return 1 +; }\n};', 'broken')).rejects.toThrow(/^broken\.ts:2:\d+: error/m);
  });
});
