// One contract for every isolation backend: start a sandbox for a function, invoke it with wire
// requests, stop it. The isolate tier is the default; heavier tiers implement the same shape.
import type { OutboundFetch } from '../egress/index.ts';
import type { Limits } from '../limits.ts';
import type { WireRequest, WireResponse } from '../wire.ts';

/** Where a tenant's console lines and the sandbox's own events go. */
export interface TenantLog {
  console(level: string, message: string): void;
  event(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}

export interface SandboxSpec {
  name: string;
  /** One bundled ES module. */
  code: string;
  limits: Limits;
  env: Record<string, unknown>;
  log: TenantLog;
  /** Runs the function's subrequests (its fetch() calls), under its egress policy. */
  outbound: OutboundFetch;
  /** Rewrites a stack trace from the bundle to the function's sources. */
  mapStack?: (stack: string) => string;
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
  invoke(request: WireRequest): Promise<WireResponse>;
  /** Runs the scheduled handler (a cron trigger fired); rejects like invoke on limits and throws. */
  scheduled(cron: string, scheduledTime: number): Promise<void>;
  /** Stop taking requests, let those in flight finish, then release everything. */
  retire(): Promise<void>;
  /** Release everything now; requests in flight fail. */
  stop(): void;
  /** CPU and memory so far; after the sandbox ended, its last reading. */
  usage?(): SandboxUsage;
  /** The OS process it runs in, for tiers that run sandboxes in their own (the resource monitor watches it). */
  readonly pid?: number;
}

export interface IsolationTier {
  readonly name: string;
  /** Starts a sandbox running `spec.code`; rejects with BundleError if the code does not load. */
  start(spec: SandboxSpec): Promise<Sandbox>;
  /** Release what the tier keeps besides sandboxes (warm templates). */
  close?(): void;
  /** What the tier has warm or prepared, for the status endpoint. */
  status?(): Record<string, unknown>;
}
