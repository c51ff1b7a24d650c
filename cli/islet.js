#!/usr/bin/env -S node --no-node-snapshot
// Launcher for `islet`: plain JavaScript so that an older Node can still say what is wrong.
// npm scripts and npx put the project's pinned Node 24 (the `node` package) first on PATH.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  // In islet's own checkout its pinned Node 24 is one "npm ci" away; in a project that installed
  // the package, that pin (a devDependency of islet's) is not there.
  const advice = import.meta.url.includes('/node_modules/')
    ? 'Install Node.js 24, or add the "node@24" package to your project and run islet through npx or an npm script.'
    : 'Run it as "npx islet" or through an npm script after "npm ci", which use the project\'s Node 24.';
  console.error(`islet needs Node.js 24 or later, and this is ${process.version}.\n${advice}`);
  process.exit(2);
}
await import('./main.ts');
