// How a sandbox's Node process is started: directly (the process tier) or inside another
// boundary (bubblewrap for the container tier). A launcher only builds the command line.
import { spawnSync } from 'node:child_process';

export interface LaunchRequest {
  /** Unique among this host's sandboxes (container runtimes name containers with it). */
  id: string;
  /** A directory of this sandbox's own the launcher may write to (an OCI bundle), removed with it. */
  scratchDir: string;
  /** The Node binary. */
  node: string;
  /** Node's flags and the runtime file. */
  nodeArgs: string[];
  /** Files and directories the sandbox must be able to read (the runtime, the bundle). */
  readable: string[];
  /** The tenant's heap limit in MB (Node's --max-old-space-size, in nodeArgs too). */
  memoryMb: number;
  /** Whether the function may reach the network itself (only the host's fetch() otherwise). */
  network: boolean;
}

export interface Launcher {
  /**
   * How the runtime reaches the host: "fd3", a socket pair on descriptor 3 (where the launcher
   * passes descriptors through), or "stdio", stdin and stdout (container runtimes).
   */
  readonly channel: 'fd3' | 'stdio';
  /**
   * Whose CPU clock a request is charged: "all-threads", every thread of node (its host pid is
   * the launcher's deepest descendant; the thread pool's crypto and zlib work included), or "process-tree", every process under the launcher (gVisor,
   * whose sandboxed node is no host process), or "vcpu-threads", the virtual CPU threads of a VM.
   */
  readonly cpuClock: 'all-threads' | 'process-tree' | 'vcpu-threads';
  /**
   * How many times slower than native the sandbox runs its code (an emulated CPU): its CPU clock
   * is divided by this before a request is charged, so cpuMs means about the same work on every
   * tier. Default 1.
   */
  readonly cpuSlowdown?: number;
  /**
   * Set when the sandbox cannot read the host's files (a VM): the bundle travels in the load
   * frame and the runtime writes it to this path inside the sandbox.
   */
  readonly codeFile?: string;
  /** What is missing on this host to launch this way, or undefined when nothing is. */
  unavailable(): string | undefined;
  /** Builds what every launch needs, once, before the first (a VM's guest image). */
  prepare?(): Promise<void>;
  /**
   * Writes what the launch needs (into request.scratchDir) and returns the command line, and the
   * user id the sandbox will run as where the launcher gives it one of its own (its code
   * directory is then made that user's, and no one else's).
   */
  command(request: LaunchRequest): { command: string; args: string[]; uid?: number };
  /** What confines the sandbox besides the launch itself, for the tier's status. */
  describe?(): Record<string, unknown>;
  /** Releases what outlives the launched process (a container runtime's state), after it exits. */
  cleanup?(request: LaunchRequest): Promise<void>;
}

/**
 * The process tier: Node itself, with its permission model as the boundary, and, where the host
 * allows, an empty network namespace and a user id of its own. The permission model does not
 * cover sockets in Node 24: without the namespace a tenant's `node:net` reaches everything the
 * engine can (the host's loopback services, a cloud's metadata address), and without its own uid
 * the kernel lets it signal the engine and read what the engine's user can. Both come from
 * util-linux (`unshare`, `setpriv`), exec'd in turn, so the sandbox keeps the launched pid.
 */
export const directLauncher: Launcher = {
  channel: 'fd3',
  cpuClock: 'all-threads',
  unavailable: () => undefined,
  command: ({ node, nodeArgs }) => {
    const confine = confinement();
    if (confine.kind === 'root') {
      const uid = sandboxUid();
      const drop = ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--no-new-privs', node];
      return { command: 'unshare', args: ['--net', ...drop, ...nodeArgs], uid };
    }
    if (confine.kind === 'user-namespace') return { command: 'unshare', args: ['--user', '--map-root-user', '--net', node, ...nodeArgs] };
    return { command: node, args: nodeArgs };
  },
  describe: () => {
    const confine = confinement();
    if (confine.kind === 'root') return { network: 'an empty network namespace', user: 'a uid of its own per sandbox' };
    if (confine.kind === 'user-namespace') return { network: 'an empty network namespace (in a user namespace)', user: "the engine's" };
    return { network: "the engine's (outbound TCP open)", user: "the engine's", why: confine.why };
  },
};

type Confinement = { kind: 'root' } | { kind: 'user-namespace' } | { kind: 'none'; why: string };
let decided: Confinement | undefined;

/**
 * What this host lets the process tier add, tried once (a few ms): as root, a network namespace
 * and another uid; otherwise a user namespace holding a network namespace, where the kernel lets
 * an unprivileged user make one; else nothing, and the status says why.
 */
function confinement(): Confinement {
  if (decided) return decided;
  const tries = (args: string[]) => spawnSync('unshare', args, { stdio: 'ignore', timeout: 5_000 }).status === 0;
  if (process.getuid?.() === 0) {
    const uid = sandboxUid();
    if (tries(['--net', 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--no-new-privs', 'true'])) return (decided = { kind: 'root' });
  } else if (tries(['--user', '--map-root-user', '--net', 'true'])) {
    return (decided = { kind: 'user-namespace' });
  }
  return (decided = { kind: 'none', why: 'util-linux unshare/setpriv missing, or this host refuses new namespaces' });
}

let nextUid = 0;
/**
 * A uid no account has, different for each sandbox of this engine and, by its pid, most likely
 * from other engines' on the host: from 2^31 up, the engine's pid in the bits above a counter in
 * the low 16 (well below (uid_t)-1). Sandboxes cannot signal one another or the engine, and files
 * they could reach through a flaw in the permission model are only the world-readable ones.
 */
function sandboxUid(): number {
  nextUid = (nextUid % 0xfffe) + 1;
  return 0x80000000 + ((process.pid & 0x3fff) << 16) + nextUid;
}
