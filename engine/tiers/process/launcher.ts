// How a sandbox's Node process is started: directly (the process tier) or inside another
// boundary (bubblewrap for the container tier). A launcher only builds the command line.

export interface LaunchRequest {
  /** The Node binary. */
  node: string;
  /** Node's flags and the runtime file. */
  nodeArgs: string[];
  /** Files and directories the sandbox must be able to read (the runtime, the bundle). */
  readable: string[];
  /** Whether the function may reach the network itself (only the host's fetch() otherwise). */
  network: boolean;
}

export interface Launcher {
  /** What is missing on this host to launch this way, or undefined when nothing is. */
  unavailable(): string | undefined;
  command(request: LaunchRequest): { command: string; args: string[] };
}

/** The process tier: Node itself, with its permission model as the boundary. */
export const directLauncher: Launcher = {
  unavailable: () => undefined,
  command: ({ node, nodeArgs }) => ({ command: node, args: nodeArgs }),
};
