// The isolate tier: every function in its own V8 isolate, inside the engine process.
import { CodeCache, runtimeSnapshot, TemplatePool, type CodeCacheOptions, type Snapshot, type TemplatePoolOptions } from '../../warm/index.ts';
import type { IsolationTier, Sandbox, SandboxSpec, TierCapabilities } from '../tier.ts';
import { IsolateSandbox } from './isolate-sandbox.ts';
import { LimitEnforcer, offThreadCpuNs } from './limit-enforcer.ts';

export interface IsolateTierOptions {
  /** Boot isolates from a V8 snapshot of the runtime (default true); off, they evaluate it. */
  snapshot?: boolean;
  /** Where the snapshot comes from (tests give one that fails). */
  makeSnapshot?: (onFailure: (err: unknown) => void) => Promise<Snapshot | undefined>;
  /** Keep blank isolates ready for cold starts (default on); false boots each one on demand. */
  templates?: TemplatePoolOptions | false;
  /** V8 code caches of tenant bundles (default on, 64 MB); false compiles every cold start afresh. */
  codeCache?: CodeCache | CodeCacheOptions | false;
  /** Where the tier reports trouble that is nobody's request's fault. */
  onWarning?: (message: string, fields: Record<string, unknown>) => void;
}

export class IsolateTier implements IsolationTier {
  readonly name = 'isolate';
  // Cold start with the template pool (README, Cold starts); ~2.7 MB per live hello isolate.
  readonly capabilities: TierCapabilities = { coldStartMs: 1.4, densityPerGb: 370, accepts: [], strength: 1, bundleFormat: 'script' };
  // Isolates' clocks read wall time while they run: charges are bounded by this process's CPU
  // outside the event loop (see limit-enforcer.ts).
  readonly #enforcer = new LimitEnforcer({ readCpuBudgetNs: offThreadCpuNs });
  readonly #snapshot: boolean;
  readonly #makeSnapshot: NonNullable<IsolateTierOptions['makeSnapshot']>;
  readonly #warn: NonNullable<IsolateTierOptions['onWarning']>;
  readonly #pool: TemplatePool<IsolateSandbox> | undefined;
  readonly #codeCache: CodeCache | undefined;

  constructor(options: IsolateTierOptions = {}) {
    this.#snapshot = options.snapshot ?? true;
    this.#makeSnapshot = options.makeSnapshot ?? runtimeSnapshot;
    this.#warn = options.onWarning ?? (() => {});
    const codeCache = options.codeCache;
    this.#codeCache = codeCache === false ? undefined : codeCache instanceof CodeCache ? codeCache : new CodeCache(codeCache);
    if (options.templates !== false) {
      this.#pool = new TemplatePool(
        (memoryMb) => this.#blank(memoryMb, true),
        (err) => this.#warn('a template isolate failed to boot', { error: String(err) }),
        options.templates,
      );
    }
  }

  /** isolated-vm ships with islet: always available. */
  unavailable(): undefined {
    return undefined;
  }

  async start(spec: SandboxSpec): Promise<Sandbox> {
    let sandbox = this.#pool?.take(spec.limits.memoryMb);
    if (!sandbox?.alive) sandbox = await this.#blank(spec.limits.memoryMb);
    await sandbox.specialise(spec, this.#enforcer, this.#codeCache);
    return sandbox;
  }

  /** Templates ready and wanted, per memoryMb. */
  templateStats(): ReturnType<TemplatePool<IsolateSandbox>['stats']> {
    return this.#pool?.stats() ?? [];
  }

  status(): Record<string, unknown> {
    return { tier: this.name, snapshot: this.#snapshot, templates: this.templateStats(), codeCache: this.#codeCache?.stats() };
  }

  /** Stops the template pool; resolves once no template is still being created (TemplatePool.close). */
  async close(): Promise<void> {
    const booting = this.#pool?.close();
    this.#codeCache?.clear();
    await booting;
  }

  async #blank(memoryMb: number, rehearse = false): Promise<IsolateSandbox> {
    const snapshot = this.#snapshot
      ? await this.#makeSnapshot((err) => this.#warn('runtime snapshot failed: isolates boot without it', { error: String(err) }))
      : undefined;
    return IsolateSandbox.blank(memoryMb, snapshot, rehearse);
  }
}

export { LimitEnforcer, type MeteredTask, type SandboxMeter, type Turn } from './limit-enforcer.ts';
