// How a sandbox's Node process is started: directly (the process tier) or inside another
// boundary (bubblewrap for the container tier). A launcher only builds the command line.

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
  /** Writes what the launch needs (into request.scratchDir) and returns the command line. */
  command(request: LaunchRequest): { command: string; args: string[] };
  /** Releases what outlives the launched process (a container runtime's state), after it exits. */
  cleanup?(request: LaunchRequest): Promise<void>;
}

/** The process tier: Node itself, with its permission model as the boundary. */
export const directLauncher: Launcher = {
  channel: 'fd3',
  cpuClock: 'all-threads',
  unavailable: () => undefined,
  command: ({ node, nodeArgs }) => ({ command: node, args: nodeArgs }),
};
