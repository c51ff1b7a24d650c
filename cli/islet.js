#!/usr/bin/env -S node --no-node-snapshot
// Launcher for `islet`: plain JavaScript so that an older Node can still say what is wrong.
// npm scripts and npx put the project's pinned Node 24 (the `node` package) first on PATH.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`islet needs Node.js 24 or later, and this is ${process.version}.\nRun it as "npx islet" or through an npm script after "npm ci", which use the project's Node 24.`);
  process.exit(2);
}
await import('./main.ts');
