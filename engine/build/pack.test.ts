// islet as a project that installed it has it: compiled into dist/, under node_modules, where
// Node will not strip types. The library loads and serves a function, and the CLI starts.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackage, packageManifest } from './pack.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

describe('the package, installed', () => {
  let project: string;
  let installed: string;
  beforeAll(async () => {
    project = await mkdtemp(path.join(tmpdir(), 'islet-installed-'));
    const modules = path.join(project, 'node_modules');
    installed = path.join(modules, 'islet');
    await mkdir(path.join(installed, 'runtime-api'), { recursive: true });
    buildPackage(path.join(installed, 'dist'));
    await writeFile(path.join(installed, 'package.json'), JSON.stringify(packageManifest(await readFile(path.join(ROOT, 'package.json'), 'utf8'))));
    await writeFile(path.join(installed, 'runtime-api/types.d.ts'), await readFile(path.join(ROOT, 'runtime-api/types.d.ts')));
    // Its dependencies, as npm would have put them beside it (links to this checkout's).
    for (const entry of await readdir(path.join(ROOT, 'node_modules'))) {
      if (entry !== '.bin') await symlink(path.join(ROOT, 'node_modules', entry), path.join(modules, entry));
    }
    await writeFile(path.join(project, 'package.json'), '{"type": "module"}');
  }, 120_000);
  afterAll(() => rm(project, { recursive: true, force: true }));

  it('loads as a library and serves a function, from JavaScript only', async () => {
    const app = path.join(project, 'app.js');
    await writeFile(app, `
      import { Engine } from 'islet';
      const engine = new Engine();
      // cloudflare:workers is a file of islet's the bundler finds beside its own compiled code.
      await engine.deploy('hello', {
        code: 'import { env } from "cloudflare:workers"; export default { fetch: (r) => new Response("hi " + new URL(r.url).pathname + env.MARK) }',
        env: { MARK: '!' },
      });
      const res = await engine.fetch('hello', new Request('http://hello.test/there'));
      console.log(res.status, await res.text());
      await engine.close();
    `);
    const { stdout } = await run(process.execPath, ['--no-node-snapshot', app], { cwd: project });
    expect(stdout.trim()).toBe('200 hi /there!');
    const sources = await readdir(path.join(installed, 'dist/engine'));
    expect(sources.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('runs its CLI', async () => {
    const { stdout } = await run(process.execPath, ['--no-node-snapshot', path.join(installed, 'dist/cli/islet.js'), '--help'], { cwd: project });
    expect(stdout).toMatch(/^Usage: islet <command>/);
    const version = await run(process.execPath, ['--no-node-snapshot', path.join(installed, 'dist/cli/islet.js'), '--version'], { cwd: project });
    expect(version.stdout.trim()).toBe(JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')).version);
  });
});
