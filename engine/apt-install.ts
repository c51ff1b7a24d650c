// Installs Debian packages for `islet setup`: as root, with apt-get, refreshing the package lists
// once if the first try fails (a fresh image often has none). Never throws: says why it could not.
import { spawnSync } from 'node:child_process';
import { findExecutable } from './tiers/host-binaries.ts';

export type AptResult = { ok: true } | { ok: false; why: string };

export function aptInstall(packages: string[], log: (line: string) => void): AptResult {
  if (process.getuid?.() !== 0) return { ok: false, why: 'not root' };
  const aptGet = findExecutable('apt-get');
  if (!aptGet) return { ok: false, why: 'no apt-get on this host' };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync(aptGet, ['install', '-y', '-q', '--no-install-recommends', ...packages], { env, encoding: 'utf8' });
  log(`islet setup: installing ${packages.join(', ')} with apt-get`);
  let result = install();
  if (result.status !== 0) {
    spawnSync(aptGet, ['update', '-q'], { env, stdio: 'ignore' });
    result = install();
  }
  if (result.status !== 0) return { ok: false, why: `apt-get failed: ${(result.stderr || result.stdout).trim().split('\n').slice(-2).join(' ')}` };
  log(`islet setup: installed ${packages.join(', ')}`);
  return { ok: true };
}
