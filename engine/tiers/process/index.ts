// The process tier: every sandbox is a long-lived Node 24 child running the in-sandbox runtime,
// under Node's permission model (reads limited to the runtime and the function's bundle; no child
// processes, workers, addons or writes), a heap limit, a cgroup where the host allows one, and the
// host's CPU and wall-clock watchdog. Heavier tiers reuse it with another launcher.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SANDBOX_CPUS, SANDBOX_PIDS_MAX, SANDBOX_PROCESS_OVERHEAD_MB } from '../../limits.ts';
import { LimitEnforcer } from '../isolate/index.ts';
import type { IsolationTier, Sandbox, SandboxSpec, TierCapabilities, TierName } from '../tier.ts';
import { commandInCgroup, detectCgroups, SandboxCgroup, type CgroupLayout } from './cgroup.ts';
import { directLauncher, type Launcher } from './launcher.ts';
import { ProcessSandbox } from './process-sandbox.ts';
import { writeRuntimeFile } from './runtime-file.ts';

export interface ProcessTierOptions {
  /** Put each sandbox in its own cgroup when the host allows (default true). */
  cgroups?: boolean;
  /** Where bundles and the runtime are written (default: a fresh directory under the OS tmpdir). */
  workDir?: string;
}

let nextSandbox = 1;

export class ProcessTier implements IsolationTier {
  readonly name: TierName = 'process';
  // ~30 ms to start node and load the runtime here; an idle sandbox holds ~45 MB of RSS.
  readonly capabilities: TierCapabilities = { coldStartMs: 30, densityPerGb: 20, accepts: ['node-builtins'], strength: 2 };
  protected readonly launcher: Launcher = directLauncher;
  readonly #enforcer = new LimitEnforcer();
  readonly #cgroupLayout: CgroupLayout | undefined;
  #cgroupTrouble: string | undefined;
  #workDir: string | undefined;
  readonly #ownsWorkDir: boolean;
  #runtime: Promise<string> | undefined;
  #started = 0;

  constructor(options: ProcessTierOptions = {}) {
    this.#cgroupLayout = options.cgroups === false ? undefined : detectCgroups();
    if (options.cgroups !== false && !this.#cgroupLayout) this.#cgroupTrouble = 'no writable cgroup hierarchy with a memory controller';
    this.#workDir = options.workDir;
    this.#ownsWorkDir = options.workDir === undefined;
  }

  unavailable(): string | undefined {
    return this.launcher.unavailable();
  }

  /** Writes the bundle to a directory of its own, the only tenant files its sandbox may read. */
  async prepare(spec: SandboxSpec): Promise<SandboxSpec> {
    const hash = createHash('sha256').update(spec.code).digest('hex').slice(0, 16);
    const dir = path.join(this.#dir(), `fn-${spec.name}-${hash}`);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'index.mjs');
    writeFileSync(file, spec.code);
    return { ...spec, artifact: file };
  }

  async start(spec: SandboxSpec): Promise<Sandbox> {
    const prepared = spec.artifact ? spec : await this.prepare(spec);
    const moduleFile = prepared.artifact!;
    this.#runtime ??= writeRuntimeFile(this.#dir());
    const runtime = await this.#runtime;
    const { memoryMb } = spec.limits;
    const memoryBytes = (memoryMb + SANDBOX_PROCESS_OVERHEAD_MB) * 1048576;
    const nodeArgs = [
      '--permission',
      `--allow-fs-read=${runtime}`,
      `--allow-fs-read=${path.dirname(moduleFile)}`,
      `--max-old-space-size=${memoryMb}`,
      runtime,
    ];
    let { command, args } = this.launcher.command({ node: process.execPath, nodeArgs, readable: [runtime, path.dirname(moduleFile)], network: false });
    const cgroup = this.#cgroup(spec.name, memoryBytes);
    if (cgroup) ({ command, args } = commandInCgroup(cgroup, command, args));
    this.#started++;
    try {
      return await ProcessSandbox.start(prepared, { command, args, cgroup, memoryBytes, moduleFile }, this.#enforcer);
    } catch (err) {
      await cgroup?.remove().catch(() => {});
      throw err;
    }
  }

  status(): Record<string, unknown> {
    return {
      available: !this.unavailable(),
      ...(this.unavailable() && { missing: this.unavailable() }),
      started: this.#started,
      cgroups: this.#cgroupLayout ? `v${this.#cgroupLayout.version}` : false,
      ...(this.#cgroupTrouble && { cgroupTrouble: this.#cgroupTrouble }),
    };
  }

  close(): void {
    if (this.#ownsWorkDir && this.#workDir) rmSync(this.#workDir, { recursive: true, force: true });
    this.#workDir = undefined;
    this.#runtime = undefined;
  }

  #dir(): string {
    this.#workDir ??= mkdtempSync(path.join(tmpdir(), `islet-${this.name}-`));
    return this.#workDir;
  }

  /** A cgroup for one sandbox, or none (after one failure, none again: not root, read-only fs). */
  #cgroup(name: string, memoryBytes: number): SandboxCgroup | undefined {
    if (!this.#cgroupLayout || this.#cgroupTrouble) return undefined;
    try {
      return SandboxCgroup.create(this.#cgroupLayout, `islet-${process.pid}-${name}-${nextSandbox++}`, {
        memoryBytes,
        pidsMax: SANDBOX_PIDS_MAX,
        cpus: SANDBOX_CPUS,
      });
    } catch (err) {
      this.#cgroupTrouble = `cgroups not writable: ${(err as Error).message}`;
      return undefined;
    }
  }
}

export { type Launcher, type LaunchRequest } from './launcher.ts';
export { ProcessSandbox } from './process-sandbox.ts';
