// The in-isolate runtime (runtime-api/) as one classic script, built once per process. It only
// defines classes and functions, so the same text also goes into a V8 startup snapshot.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { ownFile } from '../own-file.ts';
import { pollutionSafeDependencies, pollutionSafeHelpers, pollutionSafeSource } from './prototype-pollution.ts';

const ENTRY = fileURLToPath(ownFile('../../runtime-api/index', import.meta.url));

// whatwg-url loads @exodus/bytes' legacy multi-byte encoders (~390 KB, mostly tables) for
// documents in encodings like Shift_JIS. A worker has no document: its URLs are always UTF-8, so
// every isolate would pay to evaluate tables it can never use.
const dropLegacyEncodings: esbuild.Plugin = {
  name: 'islet-drop-legacy-encodings',
  setup(build) {
    build.onResolve({ filter: /^@exodus\/bytes\/encoding\.js$/ }, (args) => ({ path: args.path, namespace: 'islet-empty' }));
    build.onLoad({ filter: /.*/, namespace: 'islet-empty' }, () => ({ contents: '', loader: 'js' }));
  },
};

// whatwg-url's IDNA goes through runtime-api/url/idna.ts: tr46 is not bundled at all.
const IDNA = fileURLToPath(ownFile('../../runtime-api/url/idna', import.meta.url));
const lazyIdna: esbuild.Plugin = {
  name: 'islet-lazy-idna',
  setup(build) {
    build.onResolve({ filter: /^tr46$/ }, () => ({ path: IDNA }));
  },
};

// V8 builds startup snapshots with no SharedArrayBuffer on the global object, and two modules
// under whatwg-url read SharedArrayBuffer.prototype when they load. In a snapshot they get a
// stand-in whose brand check every value fails: whatwg-url never handles buffers.
const snapshotSafeWebidl: esbuild.Plugin = {
  name: 'islet-snapshot-safe-webidl',
  setup(build) {
    build.onLoad({ filter: /[\\/](webidl-conversions[\\/]lib[\\/]index|whatwg-url[\\/]lib[\\/]utils)\.js$/ }, async (args) => ({
      contents: `var SharedArrayBuffer = globalThis.SharedArrayBuffer ?? class SharedArrayBuffer { #brand; get byteLength() { return this.#brand; } get growable() { return this.#brand; } };\n${pollutionSafeSource(args.path, await readFile(args.path, 'utf8'))}`,
      loader: 'js',
    }));
  },
};

// whatwg-url gives every URL a URLSearchParams object when it is constructed, though most
// workers parse a URL for its pathname and never ask for `searchParams`: in a cold isolate that
// cost as much as parsing the URL (README, "Load spread over many functions"). The object is made
// on first use instead, from the query as it is then; every change to a URL's query goes through
// a setter that updates the object, which then makes it first, so the two stay in step as before.
// Its descriptor has no prototype, as it is defined after tenant code ran (prototype-pollution.ts),
// and is one object for every URL: a fresh literal with no prototype cost ~0.4 us a URL, 2.5 times
// the define itself, against ~0.07 us for this one.
const QUERY_DESCRIPTOR = 'var islet_queryDescriptor = { __proto__: null, value: undefined, writable: true, configurable: true };\n';
const EAGER_QUERY = `this._query = URLSearchParams.createImpl(globalObject, [query], { doNotStripQMark: true });
    this._query._url = this;`;
const LAZY_QUERY = `this._globalObject = globalObject;
  }

  get _query() {
    const query = URLSearchParams.createImpl(this._globalObject, [this._url.query ?? ""], { doNotStripQMark: true });
    query._url = this;
    islet_queryDescriptor.value = query;
    Object.defineProperty(this, "_query", islet_queryDescriptor);
    islet_queryDescriptor.value = undefined;
    return query;`;
const lazySearchParams: esbuild.Plugin = {
  name: 'islet-lazy-search-params',
  setup(build) {
    build.onLoad({ filter: /[\\/]whatwg-url[\\/]lib[\\/]URL-impl\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      // A whatwg-url that no longer has these lines needs this plugin looked at again: fail the build.
      if (!source.includes(EAGER_QUERY)) throw new Error(`${args.path}: the URLSearchParams construction islet defers was not found`);
      return { contents: QUERY_DESCRIPTOR + source.replace(EAGER_QUERY, LAZY_QUERY), loader: 'js' };
    });
  },
};

let cached: Promise<string> | undefined;

/**
 * How a script that runs in isolates is built: one ASCII file (a one-byte string in V8) for the
 * isolate's V8, its whitespace minified.
 */
export const ISOLATE_SCRIPT: esbuild.BuildOptions = {
  bundle: true,
  write: false,
  platform: 'neutral',
  target: 'es2024',
  mainFields: ['module', 'main'],
  logLevel: 'silent',
  legalComments: 'none',
  charset: 'ascii',
  minifyWhitespace: true,
};

export function runtimeScript(): Promise<string> {
  cached ??= esbuild
    .build({
      ...ISOLATE_SCRIPT,
      entryPoints: [ENTRY],
      format: 'iife',
      // Every isolate holds the script's source for lazy compilation: keep it small. Identifiers
      // are not minified, so functions and classes keep their source names (Headers.name, what
      // console.log prints) without esbuild's keepNames: that redefines `name` on every function,
      // which puts each one's properties in a dictionary and costs an isolate far more than the
      // longer source (README, "Where an idle hello tenant's memory goes"). The few names the
      // bundle changes (URL5, _Request) are restored for globals by runtime-api/index.ts.
      minifySyntax: true,
      plugins: [dropLegacyEncodings, lazyIdna, snapshotSafeWebidl, lazySearchParams, pollutionSafeDependencies],
    })
    .then((r) => pollutionSafeHelpers(r.outputFiles![0]!.text));
  return cached;
}
