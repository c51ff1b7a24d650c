// The process tier: every sandbox is a long-lived Node 24 child running the in-sandbox runtime,
// under Node's permission model (reads limited to the runtime and the function's bundle; no child
// processes, workers, addons or writes), a heap limit, a cgroup where the host allows one, an empty
// network namespace and a uid of its own where it allows those (launcher.ts), and the host's CPU
// and wall-clock watchdog. Heavier tiers reuse it with another launcher.
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SANDBOX_CPUS, SANDBOX_PIDS_MAX, SANDBOX_PROCESS_OVERHEAD_MB, SANDBOX_START_TIMEOUT_MS } from '../../limits.ts';
import { TemplatePool, type TemplatePoolOptions } from '../../warm/index.ts';
import { LimitEnforcer } from '../isolate/index.ts';
import type { IsolationTier, Sandbox, SandboxSpec, TierCapabilities, TierName } from '../tier.ts';
import { sandboxCommand, detectCgroups, processAlive, removeStaleCgroups, SandboxCgroup, type CgroupLayout } from './cgroup.ts';
import { directLauncher, type Launcher } from './launcher.ts';
import { ProcessSandbox } from './process-sandbox.ts';
import { LOL_HTML_FILE, writeRuntimeFile } from './runtime-file.ts';

export interface ProcessTierOptions {
  /**
   * Blank sandboxes kept ready for cold starts (default: none until the first cold start, then
   * adapting between 0 and 4 per memoryMb); false boots each one on demand.
   */
  templates?: TemplatePoolOptions | false;
  /** Put each sandbox in its own cgroup when the host allows (default true). */
  cgroups?: boolean;
  /**
   * Where bundles and the runtime are written (default: a fresh directory under the OS tmpdir,
   * mode 0711). Sandboxes given a uid of their own must be able to pass through it and the
   * directories above it.
   */
  workDir?: string;
}

let nextSandbox = 1;
/** Cgroups and work directories are named `islet-<engine pid>-…`, so leftovers of dead engines can be found. */
const CGROUP_PREFIX = 'islet-';

// Each blank sandbox is a whole Node process (~45 MB): a smaller, emptier shelf than isolates'.
const TEMPLATE_DEFAULTS: TemplatePoolOptions = { minSize: 0, maxSize: 4 };

export class ProcessTier implements IsolationTier {
  readonly name: TierName = 'process';
  // ~30 ms to start node and load the runtime here; an idle sandbox holds ~45 MB of RSS.
  readonly capabilities: TierCapabilities = { coldStartMs: 30, densityPerGb: 20, accepts: ['node-builtins'], strength: 2 };
  protected readonly launcher: Launcher = directLauncher;
  /** Memory a sandbox may hold beyond its heap limit: Node's own, plus the boundary's. */
  protected readonly memoryOverheadMb: number = SANDBOX_PROCESS_OVERHEAD_MB;
  /** How long a sandbox may take to boot, and then to load its module. */
  protected readonly startTimeoutMs: number = SANDBOX_START_TIMEOUT_MS;
  readonly #enforcer = new LimitEnforcer();
  readonly #cgroupLayout: CgroupLayout | undefined;
  #cgroupTrouble: string | undefined;
  #workDir: string | undefined;
  readonly #ownsWorkDir: boolean;
  #runtime: Promise<string> | undefined;
  #launcherReady: Promise<void> | undefined;
  #started = 0;
  #checked = false;
  readonly #pool: TemplatePool<ProcessSandbox> | undefined;
  /** Every sandbox not yet gone, so close() can wait for their cleanup. */
  readonly #sandboxes = new Set<ProcessSandbox>();

  constructor(options: ProcessTierOptions = {}) {
    if (options.templates !== false) {
      this.#pool = new TemplatePool((memoryMb) => this.#blank(memoryMb), () => {}, { ...TEMPLATE_DEFAULTS, ...options.templates });
    }
    this.#cgroupLayout = options.cgroups === false ? undefined : detectCgroups();
    if (this.#cgroupLayout) removeStaleCgroups(this.#cgroupLayout, CGROUP_PREFIX);
    if (options.cgroups !== false && !this.#cgroupLayout) this.#cgroupTrouble = 'no writable cgroup hierarchy with a memory controller';
    this.#workDir = options.workDir;
    this.#ownsWorkDir = options.workDir === undefined;
  }

  unavailable(): string | undefined {
    this.#checked = true;
    return this.launcher.unavailable();
  }

  /** Writes the bundle once per version; each sandbox of the function gets a copy in its own directory. */
  async prepare(spec: SandboxSpec): Promise<SandboxSpec> {
    const hash = createHash('sha256').update(spec.code).digest('hex').slice(0, 16);
    const dir = path.join(this.#dir(), 'bundles');
    // Only the host reads here (it copies a bundle into each sandbox's own directory).
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${spec.name}-${hash}.mjs`);
    writeFileSync(file, spec.code);
    return { ...spec, artifact: file };
  }

  async start(spec: SandboxSpec): Promise<Sandbox> {
    const prepared = spec.artifact ? spec : await this.prepare(spec);
    // A function with packages of its own needs a sandbox that can read them: booted for it.
    let sandbox = spec.packageRoot ? undefined : this.#pool?.take(spec.limits.memoryMb);
    if (!sandbox?.alive) sandbox = await this.#blank(spec.limits.memoryMb, spec.packageRoot);
    this.#started++;
    await sandbox.specialise(prepared, this.#enforcer);
    return sandbox;
  }

  /**
   * A booted sandbox with no tenant: its own directory, Node's limits, its cgroup. With
   * `packageRoot`, it may also read that directory and load native addons from it.
   */
  async #blank(memoryMb: number, packageRoot?: string): Promise<ProcessSandbox> {
    this.#runtime ??= writeRuntimeFile(this.#dir());
    const runtime = await this.#runtime;
    // Once; a failure is tried again at the next start.
    this.#launcherReady ??= this.launcher.prepare?.().catch((err: unknown) => {
      this.#launcherReady = undefined;
      throw err;
    });
    await this.#launcherReady;
    const id = `${CGROUP_PREFIX}${process.pid}-${this.name}-${nextSandbox++}`;
    const dir = path.join(this.#dir(), id);
    const codeDir = path.join(dir, 'code');
    const scratchDir = path.join(dir, 'launch');
    mkdirSync(codeDir, { recursive: true });
    mkdirSync(scratchDir);
    const memoryBytes = (memoryMb + this.memoryOverheadMb) * 1048576;
    const lolHtml = path.join(path.dirname(runtime), LOL_HTML_FILE);
    const nodeArgs = [
      '--permission',
      `--allow-fs-read=${runtime}`,
      `--allow-fs-read=${lolHtml}`,
      `--allow-fs-read=${codeDir}`,
      ...(packageRoot ? [`--allow-fs-read=${packageRoot}`, '--allow-addons'] : []),
      `--max-old-space-size=${memoryMb}`,
      runtime,
    ];
    const readable = packageRoot ? [runtime, lolHtml, codeDir, packageRoot] : [runtime, lolHtml, codeDir];
    const request = { id, scratchDir, node: process.execPath, nodeArgs, readable, memoryMb, network: false };
    const cgroup = this.#cgroup(id, memoryBytes);
    let spawned = false;
    try {
      let { command, args, uid } = this.launcher.command(request);
      if (uid !== undefined) {
        // Its code directory is its own and no other sandbox's; the work directory above it
        // only lets it pass through to it and to the runtime's files.
        chownSync(codeDir, uid, uid);
        chmodSync(codeDir, 0o700);
      }
      ({ command, args } = sandboxCommand(cgroup, command, args));
      const { channel, cpuClock, cpuSlowdown, codeFile } = this.launcher;
      const cleanup = this.launcher.cleanup && (() => this.launcher.cleanup!(request));
      const launch = { command, args, cgroup, memoryBytes, dir, codeDir, channel, cpuClock, cpuSlowdown, codeFile, startTimeoutMs: this.startTimeoutMs, cleanup };
      return await ProcessSandbox.blank(launch, (sandbox) => {
        spawned = true;
        this.#sandboxes.add(sandbox);
        void sandbox.exited.then(() => this.#sandboxes.delete(sandbox));
      });
    } catch (err) {
      // A sandbox that was spawned cleans up after itself on exit; this is for one that was not.
      if (!spawned) {
        rmSync(dir, { recursive: true, force: true });
        await cgroup?.remove().catch(() => {});
      }
      throw err;
    }
  }

  status(): Record<string, unknown> {
    // Checking may run a container (hundreds of ms): the status endpoint does not start one.
    const missing = this.#checked ? this.unavailable() : undefined;
    return {
      available: this.#checked ? !missing : 'not checked yet',
      ...(missing && { missing }),
      started: this.#started,
      templates: this.#pool?.stats() ?? [],
      cgroups: this.#cgroupLayout ? `v${this.#cgroupLayout.version}` : false,
      ...(this.#checked && this.launcher.describe && { confinement: this.launcher.describe() }),
      ...(this.#cgroupTrouble && { cgroupTrouble: this.#cgroupTrouble }),
    };
  }

  /** Stops every sandbox of this tier and waits until their cgroups and runtime state are gone. */
  async close(): Promise<void> {
    // A template still booting is among the sandboxes below, stopped with them: not waited for.
    void this.#pool?.close();
    const sandboxes = [...this.#sandboxes];
    for (const sandbox of sandboxes) sandbox.stop();
    await Promise.all(sandboxes.map((s) => s.exited));
    if (this.#ownsWorkDir && this.#workDir) rmSync(this.#workDir, { recursive: true, force: true });
    this.#workDir = undefined;
    this.#runtime = undefined;
    this.#launcherReady = undefined;
  }

  #dir(): string {
    if (!this.#workDir) {
      removeStaleWorkDirs(this.name);
      this.#workDir = mkdtempSync(path.join(tmpdir(), `islet-${this.name}-${process.pid}-`));
      // Sandboxes running as users of their own pass through it to the runtime and their code;
      // they cannot list it.
      chmodSync(this.#workDir, 0o711);
    }
    return this.#workDir;
  }

  /** A cgroup for one sandbox, or none (after one failure, none again: not root, read-only fs). */
  #cgroup(name: string, memoryBytes: number): SandboxCgroup | undefined {
    if (!this.#cgroupLayout || this.#cgroupTrouble) return undefined;
    try {
      return SandboxCgroup.create(this.#cgroupLayout, name, {
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

/** Work directories of engines that died without closing their tier. */
function removeStaleWorkDirs(tier: string): void {
  const pattern = new RegExp(`^islet-${tier}-(\\d+)-`);
  for (const entry of readdirSync(tmpdir())) {
    const m = pattern.exec(entry);
    if (m && !processAlive(Number(m[1]))) rmSync(path.join(tmpdir(), entry), { recursive: true, force: true });
  }
}

export { type Launcher, type LaunchRequest } from './launcher.ts';
export { ProcessSandbox } from './process-sandbox.ts';
