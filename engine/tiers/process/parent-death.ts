// A sandbox must not outlive its engine. Most notice on their own: Node in the process tier reads
// EOF on its channel, bubblewrap has --die-with-parent, an OCI runtime goes with its shell. QEMU
// does not: its stdio chardev ignores EOF, and a VM killed mid-boot with its engine (SIGKILL, a V8
// fatal error) kept spinning its TCG thread for hours. So the kernel is asked to kill every
// sandbox's first program when the engine dies (PR_SET_PDEATHSIG, set by util-linux's setpriv
// just before it execs the launcher's command in the same pid).
import { spawnSync } from 'node:child_process';
import { findExecutable } from '../host-binaries.ts';

/** setpriv's path where it knows --pdeathsig (util-linux 2.33 and later); null until looked for. */
let setpriv: string | undefined | null = null;

function setprivWithPdeathsig(): string | undefined {
  if (setpriv === null) {
    const found = findExecutable('setpriv');
    const help = found ? spawnSync(found, ['--help'], { encoding: 'utf8', timeout: 5_000 }).stdout ?? '' : '';
    setpriv = help.includes('--pdeathsig') ? found : undefined;
  }
  return setpriv;
}

/**
 * `command args` run so that it is killed when this process dies; as it was where setpriv is
 * missing or too old (the process tier's and container tiers' own ways of noticing still hold).
 * The signal is cleared by the kernel when a later program changes user or is set-uid: those
 * launchers are the ones that notice their engine's death on their own.
 */
export function killedWithEngine(command: string, args: string[]): { command: string; args: string[] } {
  const wrapper = setprivWithPdeathsig();
  return wrapper ? { command: wrapper, args: ['--pdeathsig', 'KILL', command, ...args] } : { command, args };
}
