// Tenant code in, one ESM module (or, for the isolate tier, one script) out: esbuild's API in
// process, aimed at the isolate's V8.
import { builtinModules, createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { BundleError } from '../errors.ts';
import { ownFile } from '../own-file.ts';

export interface TenantBundle {
  /** One self-contained ES module, or with `format: 'script'` a script whose value is its exports. */
  code: string;
  format: BundleFormat;
  /** Its source map (JSON), sources relative to the working directory, without their content. */
  sourceMap: string | undefined;
  /** Files the bundle was built from (absolute paths), for `islet dev` to watch. */
  inputs: string[];
  /** With `packagesAtRunTime`: the directory holding every package the code imports (a node_modules). */
  packageRoot?: string;
}

// Node 24 lists the built-ins only reachable with the prefix (node:sea, node:sqlite, node:test) with it.
const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => (m.startsWith('node:') ? [m] : [m, `node:${m}`])));

// The isolate tier runs plain V8: a Node built-in would only fail later, at run time, with a
// less helpful message. Refuse it at bundle time, naming the importing file and line — unless the
// importing package's "browser" map leaves it out (`"browser": { "crypto": false }`, as crypto-js,
// bcryptjs and qs's object-inspect have it, and as wrangler's bundles honour it): then esbuild
// puts an empty module in its place.
const RESOLVING_BUILTIN = Symbol('islet resolving a built-in');
const refuseNodeBuiltins: esbuild.Plugin = {
  name: 'islet-refuse-node-builtins',
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z0-9_/]+$/ }, async (args) => {
      if (!NODE_BUILTINS.has(args.path) || args.pluginData === RESOLVING_BUILTIN) return undefined;
      const mapped = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: RESOLVING_BUILTIN });
      if (mapped.errors.length === 0) return undefined;
      return {
        errors: [{ text: `Node built-in "${args.path}" is not available in the isolate tier (isolates run Web APIs only); declare \"needs\": [\"node-builtins\"] (islet dev: --needs node-builtins) to run on a tier with Node's APIs` }],
      };
    });
  },
};

// Node built-ins read nothing from the server's disk at bundle time: they stay imports.
const keepNodeBuiltins: esbuild.Plugin = {
  name: 'islet-keep-node-builtins',
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z0-9_/]+$/ }, (args) => (NODE_BUILTINS.has(args.path) ? { path: args.path, external: true } : undefined));
  },
};

// Workers' own modules: `cloudflare:workers` is islet's file of it (WorkerEntrypoint, env, the base
// classes), bundled in with the tenant's code; the others name APIs islet does not have, said so
// at bundle time rather than as "Could not resolve".
const CLOUDFLARE_WORKERS = fileURLToPath(ownFile('../../runtime-api/bindings/cloudflare-workers', import.meta.url));
const cloudflareModules: esbuild.Plugin = {
  name: 'islet-cloudflare-modules',
  setup(build) {
    build.onResolve({ filter: /^cloudflare:/ }, (args) => (args.path === 'cloudflare:workers'
      ? { path: CLOUDFLARE_WORKERS }
      : { errors: [{ text: `"${args.path}" is not available in islet (of Workers' own modules it has cloudflare:workers)` }] }));
  },
};

// Code sent through the admin API is untrusted input to the host: letting esbuild resolve its
// imports would let it read files from the server's disk into the bundle.
const refuseAllImports: esbuild.Plugin = {
  name: 'islet-refuse-imports',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => ({
      errors: [{ text: `import "${args.path}" is not allowed in code deployed through the admin API: deploy one bundled module (e.g. esbuild --bundle --format=esm)` }],
    }));
  },
};

// Workers' default module rules (wrangler's): `.txt`, `.html` and `.sql` (D1 schemas) import as
// text, `.bin` as an ArrayBuffer, `.wasm` as a WebAssembly.Module (CompiledWasm). The isolate tier generates no code
// from bytes (runtime-api/host/webassembly.ts), so there a `.wasm` import is said to be
// unsupported at bundle time, rather than as esbuild's "No loader is configured"; the process
// tiers' Node compiles it as the module loads.
function workersModuleRules(compileWasm: boolean): esbuild.Plugin {
  const bytesOf = async (file: string) => `Uint8Array.from(atob(${JSON.stringify((await readFile(file)).toString('base64'))}), (c) => c.charCodeAt(0))`;
  return {
    name: 'islet-workers-module-rules',
    setup(build) {
      build.onLoad({ filter: /\.bin$/ }, async (args) => ({ contents: `export default ${await bytesOf(args.path)}.buffer;`, loader: 'js' }));
      if (compileWasm) {
        build.onResolve({ filter: /\.wasm\?module$/ }, (args) => ({ path: path.resolve(args.resolveDir, args.path.slice(0, -'?module'.length)) }));
        build.onLoad({ filter: /\.wasm$/ }, async (args) => ({ contents: `export default new WebAssembly.Module(${await bytesOf(args.path)});`, loader: 'js' }));
        return;
      }
      build.onResolve({ filter: /\.wasm(\?module)?$/ }, (args) => ({
        errors: [{ text: `"${args.path}": importing a WebAssembly module (Workers' CompiledWasm rule) is not supported on the isolate tier, which compiles no WebAssembly from bytes; a process tier compiles it (islet dev: --needs node-builtins)` }],
      }));
    },
  };
}

const COMMON: esbuild.BuildOptions = {
  bundle: true,
  write: false,
  format: 'esm',
  // As wrangler bundles: packages' "browser" maps apply (a file or built-in mapped to false).
  platform: 'browser',
  // Node 24's V8 (13.x) understands all of ES2024; newer syntax is lowered where esbuild can.
  target: 'es2024',
  mainFields: ['workerd', 'worker', 'browser', 'module', 'main'],
  conditions: ['workerd', 'worker', 'browser'],
  logLevel: 'silent',
  loader: { '.txt': 'text', '.html': 'text', '.sql': 'text' },
  legalComments: 'none',
  charset: 'utf8',
  metafile: true,
  // External so the module stays small; the host maps tenant stack traces with it.
  sourcemap: 'external',
  sourcesContent: false,
  // Many npm packages (React among them) branch on process.env.NODE_ENV, and a worker has no
  // `process`: replaced at build time, as wrangler does, they load and take their lean path.
  define: { 'process.env.NODE_ENV': '"production"' },
};

/**
 * `script`: the module as a classic script evaluating to its exports object. V8 accepts a code
 * cache for scripts that spares a cold start the parse (for a 100 KB bundle, 1.4 ms down to
 * 0.3 ms here); for modules, isolated-vm's cache saves nothing measurable.
 */
export type BundleFormat = 'module' | 'script';

// A module's body, in strict mode as a module's is, inside a function of its own so that its
// top-level names stay out of the global scope; the script's value is what the module exported.
const SCRIPT_WRAPPER = {
  banner: { js: '(function () { "use strict"; var module = { exports: {} }, exports = module.exports;' },
  footer: { js: 'return module.exports; })()' },
};

export interface BundleOptions {
  /**
   * The function runs on a tier with Node's APIs (process, container, VM): `node:*` imports stay
   * imports, packages resolve to their Node builds, and CommonJS `require` works in the module.
   */
  nodeBuiltins?: boolean;
  /**
   * `script` where the code allows (default `module`): top-level await and import.meta exist only
   * in modules, so such code stays one.
   */
  format?: BundleFormat;
  /**
   * Leave npm packages out of the bundle, imported at run time from where Node finds them for the
   * entry (for native addons, whose `.node` files cannot be bundled); implies `nodeBuiltins`.
   */
  packagesAtRunTime?: boolean;
}

/**
 * Every package import stays an import, of the file Node itself would load for the importing
 * file, by absolute path: the sandbox then needs to read only those packages' directory (the
 * bundle's packageRoot), wherever its own copy of the bundle lies.
 */
function packagesAtRunTime(found: string[]): esbuild.Plugin {
  return {
    name: 'islet-packages-at-run-time',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (NODE_BUILTINS.has(args.path)) return { path: args.path, external: true };
        try {
          const file = createRequire(path.join(args.resolveDir, 'index.js')).resolve(args.path);
          found.push(file);
          return { path: file, external: true };
        } catch {
          return { errors: [{ text: `package "${args.path}" is not installed where ${args.resolveDir} would find it (npm install it there)` }] };
        }
      });
    },
  };
}

/**
 * The deepest directory holding the node_modules of every one of `files`: a package's own
 * dependencies (its platform's prebuilt addon, say) may be installed beside it, not inside it.
 */
function packageRoot(files: string[]): string | undefined {
  const trees = files.map((file) => {
    const tree = `${path.sep}node_modules`;
    const at = file.indexOf(tree + path.sep);
    return at < 0 ? path.dirname(file) : file.slice(0, at + tree.length);
  });
  if (!trees.length) return undefined;
  let dir = trees[0]!;
  for (const tree of trees) while (tree !== dir && !tree.startsWith(dir + path.sep)) dir = path.dirname(dir);
  return dir;
}

// Under Node, a bundled CommonJS dependency's require('fs') needs a real require in the module.
const NODE_TARGET: esbuild.BuildOptions = {
  platform: 'node',
  mainFields: ['module', 'main'],
  conditions: ['node'],
  banner: { js: "import { createRequire as __isletCreateRequire } from 'node:module'; const require = __isletCreateRequire(import.meta.url);" },
};

/** Bundles an entry file (TypeScript or JavaScript, may import npm packages). */
export async function bundleEntry(entry: string, options: BundleOptions = {}): Promise<TenantBundle> {
  const absolute = path.resolve(entry);
  // esbuild would say "Could not resolve": a path that names no file is plainer said so.
  if (!existsSync(absolute)) throw new BundleError(`the entry file ${entry} does not exist (looked for ${absolute})`);
  const packages: string[] = [];
  const plugins = [cloudflareModules, workersModuleRules(Boolean(options.nodeBuiltins || options.packagesAtRunTime)), ...options.packagesAtRunTime ? [packagesAtRunTime(packages)] : options.nodeBuiltins ? [] : [refuseNodeBuiltins]];
  const target = options.nodeBuiltins || options.packagesAtRunTime ? { ...NODE_TARGET, plugins } : { plugins };
  let bundle: TenantBundle;
  try {
    bundle = await run({ ...COMMON, ...target, entryPoints: [absolute], outfile: path.join(process.cwd(), 'bundle.js') }, process.cwd(), options.format);
  } catch (err) {
    // The fix may be in a config (a paths alias added to tsconfig.json, a package installed).
    if (err instanceof BundleError) err.files.push(...projectConfigs([absolute, ...err.files]));
    throw err;
  }
  bundle.inputs.push(...projectConfigs(bundle.inputs));
  return options.packagesAtRunTime ? { ...bundle, packageRoot: packageRoot(packages) } : bundle;
}

/** The configs esbuild reads for a project's files besides them: its paths aliases, decorators, JSX and "imports". */
const PROJECT_CONFIGS = ['tsconfig.json', 'jsconfig.json', 'package.json'];

/**
 * The project configs in the folders of `files` (not in node_modules) and above them, up to the
 * nearest package.json. They are
 * no input in esbuild's metafile, yet a change to one changes the bundle (or, with a package.json
 * that `npm install` rewrote, may fix it): `islet dev` watches them too, as wrangler's esbuild does.
 */
function projectConfigs(files: string[]): string[] {
  const found = new Set<string>();
  const seen = new Set<string>();
  for (const file of files) {
    if (file.includes(`${path.sep}node_modules${path.sep}`)) continue;
    for (let dir = path.dirname(file); !seen.has(dir); dir = path.dirname(dir)) {
      seen.add(dir);
      for (const name of PROJECT_CONFIGS) if (existsSync(path.join(dir, name))) found.add(path.join(dir, name));
      // The nearest package.json is the project's root: above it, a home folder's stray
      // package.json would have dev watch the whole home folder while a build is broken.
      if (existsSync(path.join(dir, 'package.json')) || path.dirname(dir) === dir) break;
    }
  }
  // A tsconfig's `"extends": "../tsconfig.base.json"` (a monorepo's shared paths) is read too.
  for (const config of found) {
    if (path.basename(config) === 'package.json') continue;
    let text = '';
    try {
      text = readFileSync(config, 'utf8');
    } catch {
      continue;
    }
    for (const [, base] of text.matchAll(/"extends"\s*:\s*"(\.{1,2}\/[^"]+)"/g)) {
      const file = path.resolve(path.dirname(config), base!);
      for (const candidate of [file, `${file}.json`]) if (existsSync(candidate) && !found.has(candidate)) found.add(candidate);
    }
  }
  return [...found];
}

/**
 * The file name esbuild is given for code sent inline, whatever the function is called: esbuild
 * names a module's own helpers after its file (`worker_default`), and with the function's name the
 * same code deployed under two names bundled differently and shared no code cache
 * (engine/warm/code-cache.ts). The function's name is put back where people read it: the source
 * map (so stack traces) and build errors.
 */
const INLINE_SOURCE = 'worker.ts';

/** Bundles one module's source, as sent through the admin API; it may import only Node built-ins, and those only with `nodeBuiltins`. */
export async function bundleSource(source: string, name: string, options: BundleOptions = {}): Promise<TenantBundle> {
  return run(
    {
      ...COMMON,
      ...(options.nodeBuiltins && NODE_TARGET),
      stdin: { contents: source, loader: 'ts', sourcefile: INLINE_SOURCE },
      outfile: path.join(process.cwd(), 'bundle.js'),
      plugins: [cloudflareModules, options.nodeBuiltins ? keepNodeBuiltins : refuseNodeBuiltins, refuseAllImports],
    },
    undefined,
    options.format,
    `${name}.ts`,
  );
}

/** `shownAs`: the name people see for INLINE_SOURCE, with code given inline. */
async function run(options: esbuild.BuildOptions, cwd: string | undefined, format: BundleFormat = 'module', shownAs?: string): Promise<TenantBundle> {
  if (format === 'script') {
    const script = await build({ ...options, format: 'cjs', ...SCRIPT_WRAPPER }, cwd, 'script', shownAs).catch((err: unknown) => {
      if (err instanceof BundleError && err.diagnostics.some((d) => d.includes('Top-level await'))) return undefined;
      throw err;
    });
    if (script && !script.usesImportMeta) return script.bundle;
  }
  // Only for the isolate tier (which asked for a script): other runtimes import the module and wait
  // for its top level themselves, and workerd refuses an export that is no handler.
  const loaded = format === 'script' ? { footer: { js: `export const ${MODULE_LOADED_EXPORT} = true;` } } : {};
  return (await build({ ...options, ...loaded }, cwd, 'module', shownAs)).bundle;
}

/**
 * The last export of a module bundle made for the isolate tier, set by its last statement: with
 * top-level await a module's evaluation goes on after the call that started it returned, and the
 * sandbox waits for this.
 */
export const MODULE_LOADED_EXPORT = '__isletLoaded';

async function build(options: esbuild.BuildOptions, cwd: string | undefined, format: BundleFormat, shownAs?: string): Promise<{ bundle: TenantBundle; usesImportMeta: boolean }> {
  const shown = (file: string): string => (shownAs !== undefined && file === INLINE_SOURCE ? shownAs : file);
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = (await esbuild.build(options)) as esbuild.BuildResult<{ write: false; metafile: true }>;
  } catch (err) {
    const failure = err as esbuild.BuildFailure;
    if (!Array.isArray(failure.errors)) throw err;
    const errors = failure.errors.map((e) => (e.location ? { ...e, location: { ...e.location, file: shown(e.location.file) } } : e));
    const files = errors.flatMap((e) => errorFiles(e, cwd ?? process.cwd()));
    throw new BundleError('the function\'s code could not be bundled', errors.map(formatMessage), [...new Set(files)]);
  }
  const code = result.outputFiles.find((f) => f.path.endsWith('.js'))?.text ?? '';
  let sourceMap = result.outputFiles.find((f) => f.path.endsWith('.map'))?.text;
  if (sourceMap && shownAs !== undefined) {
    const map = JSON.parse(sourceMap) as { sources: string[] };
    map.sources = map.sources.map(shown);
    sourceMap = JSON.stringify(map);
  }
  const inputs = Object.keys(result.metafile.inputs)
    .filter((p) => !p.startsWith('<'))
    .map((p) => path.resolve(cwd ?? process.cwd(), p));
  return { bundle: { code, format, sourceMap, inputs }, usesImportMeta: result.warnings.some((w) => w.id === 'empty-import-meta') };
}

/**
 * The files an error is about: where it points, and for an import that does not resolve, the
 * file it names (relative to the importer), which the fix may create.
 */
function errorFiles(m: esbuild.Message, cwd: string): string[] {
  if (!m.location?.file) return [];
  const importer = path.resolve(cwd, m.location.file);
  const missing = /^Could not resolve "(\.{1,2}\/[^"]*|\/[^"]*)"/.exec(m.text)?.[1];
  return missing === undefined ? [importer] : [importer, path.resolve(path.dirname(importer), missing)];
}

function formatMessage(m: esbuild.Message): string {
  const loc = m.location;
  if (!loc) return `error: ${m.text}`;
  const where = `${loc.file}:${loc.line}:${loc.column + 1}`;
  return `${where}: error: ${m.text}${loc.lineText ? `\n    ${loc.lineText}` : ''}`;
}
