// One contract for every isolation backend: prepare a function's code, start a sandbox for it,
// invoke it with wire requests, check its health, stop it. The isolate tier is the default;
// heavier tiers implement the same shape, and each says what it costs and what it accepts.
import type { AiHost } from '../bindings/index.ts';
import type { IsletError } from '../errors.ts';
import type { BundleFormat } from '../bundle/index.ts';
import type { FunctionCache } from '../cache/index.ts';
import type { OutboundFetch } from '../egress/index.ts';
import type { Limits } from '../limits.ts';
import type { WireRequest, WireResponse } from '../wire.ts';

/** The backends islet knows, cheapest first. */
export const TIER_NAMES = ['isolate', 'process', 'container', 'gvisor', 'microvm'] as const;
export type TierName = (typeof TIER_NAMES)[number];

/**
 * What a function may declare it needs. `node-builtins`: imports `node:*` modules; `native`:
 * loads native addons (from the packages installed beside its entry, which then stay out of its
 * bundle; native code is not bound by Node's permission model, so only kernel boundaries take it); `untrusted-strong`: code that
 * must not share a kernel interface with the host beyond a syscall filter (gVisor, a VM).
 */
export const NEEDS = ['node-builtins', 'native', 'untrusted-strong'] as const;
export type Need = (typeof NEEDS)[number];

export interface TierCapabilities {
  /** How the tier wants tenant code bundled; default 'module'. */
  bundleFormat?: BundleFormat;
  /** Typical cold start of a hello function on this tier, measured on this project's machines. */
  coldStartMs: number;
  /** About how many idle hello sandboxes fit in a GB of memory. */
  densityPerGb: number;
  /** The needs this tier satisfies. */
  accepts: readonly Need[];
  /**
   * Strength of the boundary, 1 to 4: 1 V8's isolate, 2 an OS process under Node's permission
   * model, 3 kernel namespaces and cgroups, 4 a separate kernel (gVisor's or a VM's).
   */
  strength: 1 | 2 | 3 | 4;
}

/** Where a tenant's console lines and the sandbox's own events go. */
export interface TenantLog {
  console(level: string, message: string): void;
  event(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}

export interface SandboxSpec {
  name: string;
  /** One bundled ES module, or (`format: 'script'`) a script whose value is the module's exports. */
  code: string;
  /** Default 'module'. Only tiers that ask for scripts (`bundleFormat`) get them. */
  format?: BundleFormat;
  /** Identifies `code` for caches (a hash), computed once per deploy. */
  codeKey?: string;
  limits: Limits;
  env: Record<string, unknown>;
  log: TenantLog;
  /** Runs the function's subrequests (its fetch() calls), under its egress policy. */
  outbound: OutboundFetch;
  /** Rewrites a stack trace from the bundle to the function's sources. */
  mapStack?: (stack: string) => string;
  /** The host end of the function's AI binding, when it has one (env[ai.binding]). */
  ai?: AiHost;
  /** Its service bindings' names: the runtime gives each an env entry whose fetch() goes through `outbound`. */
  services?: string[];
  /** The function's Cache API storage (caches.default, caches.open), looked up at each call: none once undeployed. */
  cache?: () => FunctionCache | undefined;
  /**
   * Told when a sandbox of this function ends on its own — a limit, a crash — whether or not a
   * request was in flight (work after the response can hit a limit too). Not told for stop().
   */
  onEnded?: (reason: IsletError) => void;
  /**
   * A request left the sandbox: requests waiting for room in it may go in. Its answer may have
   * gone long before (waitUntil work, a streamed body), when nothing else tells the scheduler.
   */
  onRoom?: () => void;
  /**
   * The directory of the npm packages the code imports at run time (functions that need native
   * addons): its sandboxes may read it and load addons from it.
   */
  packageRoot?: string;
  /** What the tier's prepare() made for start() (a bundle file, an image). */
  artifact?: string;
}

/** What a sandbox uses, for the resource monitor and the metrics. */
export interface SandboxUsage {
  /** CPU time it has used since it started, in ns. */
  cpuNs: number;
  /** Heap (plus external memory) it holds now, in bytes. */
  heapBytes: number;
}

export interface Sandbox {
  /** False once the sandbox was stopped or killed by a limit; callers start a new one. */
  readonly alive: boolean;
  /** Requests (including their waitUntil work) not finished yet. */
  readonly inFlight: number;
  /** Connections it holds open beyond requests (WebSockets): it is not idle while it has any. */
  readonly held?: number;
  invoke(request: WireRequest): Promise<WireResponse>;
  /** Runs the scheduled handler (a cron trigger fired); rejects like invoke on limits and throws. */
  scheduled(cron: string, scheduledTime: number): Promise<void>;
  /** True when the sandbox answers a round trip through its boundary. */
  health(): Promise<boolean>;
  /** Stop taking requests, let those in flight finish, then release everything. */
  retire(): Promise<void>;
  /** Release everything now; requests in flight fail. */
  stop(): void;
  /**
   * Idle: give back memory the sandbox keeps only for speed (the isolate tier runs a
   * memory-reducing garbage collection, charged to no one). False when it does nothing: busy,
   * or nothing ran since it last did.
   */
  reclaim?(): boolean;
  /** CPU and memory so far; after the sandbox ended, its last reading. */
  usage?(): SandboxUsage;
  /** The OS process it runs in, for tiers that run sandboxes in their own (the resource monitor watches it). */
  readonly pid?: number;
}

export interface IsolationTier {
  readonly name: TierName;
  readonly capabilities: TierCapabilities;
  /** Why this tier cannot run on this host (what is missing), or undefined when it can. */
  unavailable(): string | undefined;
  /**
   * Makes `spec` startable (writes the bundle where the sandbox can read it, builds an image) and
   * returns the spec start() takes; called once per deploy, before the first start.
   */
  prepare?(spec: SandboxSpec): Promise<SandboxSpec>;
  /** Starts a sandbox running `spec.code`; rejects with BundleError if the code does not load. */
  start(spec: SandboxSpec): Promise<Sandbox>;
  /** Release what the tier keeps (warm templates, prepared files), and stop its sandboxes. */
  close?(): void | Promise<void>;
  /** What the tier has warm or prepared, for the status endpoint. */
  status?(): Record<string, unknown>;
}
