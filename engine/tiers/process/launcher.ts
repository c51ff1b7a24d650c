// How a sandbox's Node process is started: directly (the process tier) or inside another
// boundary (bubblewrap for the container tier). A launcher only builds the command line.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';

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
  command: ({ id, node, nodeArgs, readable }) => {
    const confine = confinement();
    // A uid of its own only if it can reach what it must read: a work directory under one only
    // root may enter (TMPDIR=/root/tmp) had every sandbox fail to boot.
    const unreachable = confine.ownUid ? readable.find((p) => !othersMayPass(path.dirname(p))) : undefined;
    if (unreachable !== undefined) skippedUid = unreachable;
    const uid = confine.ownUid && unreachable === undefined ? takeUid(id) : undefined;
    const drop = uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--no-new-privs'];
    const line = [...NET_PREFIX[confine.net](drop), node, ...nodeArgs];
    return { command: line[0]!, args: line.slice(1), ...(uid !== undefined && { uid }) };
  },
  describe: () => {
    const confine = confinement();
    return {
      network: { namespace: 'an empty network namespace', 'user-namespace': 'an empty network namespace (in a user namespace)', shared: "the engine's (outbound TCP open)" }[confine.net],
      user: !confine.ownUid ? "the engine's" : skippedUid === undefined ? 'a uid of its own per sandbox' : `the engine's: ${skippedUid} is not reachable by other users`,
      ...(confine.why !== undefined && { why: confine.why }),
    };
  },
  cleanup: async ({ id }) => {
    uidsInUse.delete(id);
  },
};

interface Confinement {
  net: 'namespace' | 'user-namespace' | 'shared';
  ownUid: boolean;
  why?: string;
}
let decided: Confinement | undefined;
let skippedUid: string | undefined;

/**
 * The command line before node for each network confinement, around the uid drop (`drop`, empty
 * for none): as root, `unshare --net` then the drop; a user namespace is made after the drop (by
 * the sandbox's own uid, where the kernel lets users make them), or by the engine's user.
 */
const NET_PREFIX: Record<Confinement['net'], (drop: string[]) => string[]> = {
  namespace: (drop) => ['unshare', '--net', ...drop],
  'user-namespace': (drop) => [...drop, 'unshare', '--user', '--map-root-user', '--net'],
  shared: (drop) => drop,
};

/**
 * What this host lets the process tier add, tried once (a few ms each): as root, a network
 * namespace and a uid of its own; failing the namespace (root without CAP_SYS_ADMIN, as in a
 * container), the uid with a user namespace holding a network namespace, or the uid alone;
 * not root, the user and network namespaces where the kernel lets users make them. The status says
 * what it got.
 */
function confinement(): Confinement {
  if (decided) return decided;
  const works = (line: string[]) => spawnSync(line[0]!, line.slice(1), { stdio: 'ignore', timeout: 5_000 }).status === 0;
  const trial = ['setpriv', `--reuid=${TRIAL_UID}`, `--regid=${TRIAL_UID}`, '--clear-groups', '--no-new-privs'];
  const root = process.getuid?.() === 0;
  const candidates: Confinement[] = root
    ? [{ net: 'namespace', ownUid: true }, { net: 'user-namespace', ownUid: true }, { net: 'shared', ownUid: true }]
    : [{ net: 'user-namespace', ownUid: false }];
  for (const c of candidates) {
    const line = [...NET_PREFIX[c.net](c.ownUid ? trial : []), 'true'];
    if (works(line)) {
      decided = c.net === 'shared' ? { ...c, why: 'this host refuses the process tier a network namespace' } : c;
      return decided;
    }
  }
  return (decided = { net: 'shared', ownUid: false, why: 'util-linux unshare/setpriv missing, or this host refuses new namespaces' });
}

/** Whether users other than the engine's may pass through `dir` and every directory above it. */
function othersMayPass(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (d === path.dirname(d)) return true;
  }
}

// Uids from 2^31 up, none an account's: the engine's pid (at most 2^22 - 1, Linux's largest
// pid_max) above a slot of 9 bits, so engines on one host never share one, and within an engine a
// slot is not handed out again while its sandbox lives (511 at once; past that they share).
// Sandboxes cannot signal one another or the engine, and files they could reach through a flaw in
// the permission model are only the world-readable ones.
const SLOTS = 511;
const TRIAL_UID = 0x80000000 + process.pid * 512 + SLOTS;
const uidsInUse = new Map<string, number>();
let nextSlot = 0;

function takeUid(id: string): number {
  const used = new Set(uidsInUse.values());
  let uid = 0;
  for (let tries = 0; tries < SLOTS; tries++) {
    uid = 0x80000000 + process.pid * 512 + nextSlot;
    nextSlot = (nextSlot + 1) % SLOTS;
    if (!used.has(uid)) break;
  }
  uidsInUse.set(id, uid);
  return uid;
}
