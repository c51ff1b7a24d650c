// `npm pack` / `npm publish` for islet. In a checkout islet runs from its TypeScript sources;
// installed under node_modules it cannot (Node strips types only outside node_modules), so the
// package carries JavaScript compiled into dist/ (tsconfig.build.json: types stripped, .ts
// imports rewritten to .js, declarations beside them), and for the time of the pack its
// package.json points `exports` and `bin` there. `prepack` builds and rewrites; `postpack` puts
// the checkout's package.json back. Files islet reads at run time that are not code (the microVM's
// guest init script) are copied beside the compiled modules.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MANIFEST = path.join(ROOT, 'package.json');
const SAVED = path.join(ROOT, 'package.json.checkout');
const ASSETS = ['engine/tiers/microvm/guest-init.sh'];

/** Compiles islet into `dist` (the package's dist/ folder) with what it needs beside the code. */
export function buildPackage(dist = path.join(ROOT, 'dist')): void {
  rmSync(dist, { recursive: true, force: true });
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });
  for (const asset of ASSETS) copyFileSync(path.join(ROOT, asset), path.join(dist, asset));
  // The launcher is plain JavaScript already; in the package it starts the compiled CLI.
  const launcher = readFileSync(path.join(ROOT, 'cli/islet.js'), 'utf8');
  if (!launcher.includes("await import('./main.ts');")) throw new Error('cli/islet.js no longer imports ./main.ts: update engine/build/pack.ts');
  writeFileSync(path.join(dist, 'cli/islet.js'), launcher.replace("await import('./main.ts');", "await import('./main.js');"), { mode: 0o755 });
}

/** The checkout's package.json as the package has it: entry points in dist/, nothing to run on install. */
export function packageManifest(checkout: string): Record<string, unknown> {
  const manifest = JSON.parse(checkout) as Record<string, unknown>;
  manifest.exports = {
    '.': { types: './dist/engine/index.d.ts', default: './dist/engine/index.js' },
    './types': { types: './runtime-api/types.d.ts', default: './runtime-api/types.d.ts' },
  };
  manifest.bin = { islet: './dist/cli/islet.js' };
  // isolated-vm 7's prebuilt binary is for Node 24, and islet uses Node 24's APIs.
  manifest.engines = { node: '>=24' };
  // The checkout's scripts and tools stay in the checkout.
  delete manifest.scripts;
  delete manifest.devDependencies;
  return manifest;
}

function pointAtDist(): void {
  if (existsSync(SAVED)) throw new Error(`${SAVED} exists: a pack was interrupted; restore package.json from it first`);
  const text = readFileSync(MANIFEST, 'utf8');
  writeFileSync(SAVED, text);
  writeFileSync(MANIFEST, `${JSON.stringify(packageManifest(text), null, 2)}\n`);
}

function restore(): void {
  if (existsSync(SAVED)) renameSync(SAVED, MANIFEST);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const step = process.argv[2];
  if (step === 'prepack') {
    try {
      buildPackage();
      pointAtDist();
    } catch (err) {
      restore();
      throw err;
    }
  } else if (step === 'postpack') {
    restore();
  } else {
    console.error('usage: node engine/build/pack.ts prepack|postpack');
    process.exit(2);
  }
}
