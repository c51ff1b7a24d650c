// A sandbox must not outlive its engine. Most notice on their own: Node in the process tier and
// in containers reads EOF on its channel and exits, bubblewrap has --die-with-parent, and an OCI
// runtime in the foreground deletes its container once the container's Node has exited (killing
// the runtime first would leave the container's state behind). QEMU does not: its stdio chardev
// ignores EOF, and a VM killed mid-boot with its engine (SIGKILL, a V8 fatal error) kept spinning
// its TCG thread for hours. So its launcher asks the kernel to kill it when the engine dies
// (PR_SET_PDEATHSIG, set by util-linux's setpriv just before it execs QEMU in the same pid).
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
 * missing or too old. The kernel clears the signal when a later program changes user or is
 * set-uid, so it suits a command that execs no such program.
 */
export function killedWithEngine(command: string, args: string[]): { command: string; args: string[] } {
  const wrapper = setprivWithPdeathsig();
  return wrapper ? { command: wrapper, args: ['--pdeathsig', 'KILL', command, ...args] } : { command, args };
}
