// islet runs from its TypeScript sources in a checkout, and from the JavaScript compiled into
// dist/ when installed as a package (Node strips types only outside node_modules; `npm pack`
// builds dist/, see engine/build/). A module that names a file of islet's own to run — a worker
// thread, a child process, an entry esbuild bundles — names it with its own extension, so the
// same code finds the .ts beside it in a checkout and the .js beside it in dist/.

/** The file `relative` (a path without extension) from `metaUrl`'s module, with that module's extension. */
export function ownFile(relative: string, metaUrl: string): URL {
  return new URL(relative + (metaUrl.endsWith('.js') ? '.js' : '.ts'), metaUrl);
}

/** True for a module loaded from the compiled package (dist/), false from the sources. */
export function isBuilt(metaUrl: string): boolean {
  return metaUrl.endsWith('.js');
}
