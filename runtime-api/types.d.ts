// Types for tenant authors: `import type { ExportedHandler } from 'islet/types'`. Request,
// Response and the other Web APIs come from TypeScript's own lib ("webworker" or "dom").

/** The `ctx` argument of a fetch handler. */
export interface ExecutionContext {
  /** Keep working on `promise` after the response is sent (until the wall-clock limit). */
  waitUntil(promise: Promise<unknown>): void;
  /** Accepted for Workers compatibility; islet has no origin to pass to, so errors answer 500. */
  passThroughOnException(): void;
}

/** The `controller` argument of a scheduled handler. */
export interface ScheduledController {
  readonly cron: string;
  /** When the run was due, in ms since the epoch. */
  readonly scheduledTime: number;
  noRetry(): void;
}

/** What a function's module exports by default: a fetch handler, a scheduled handler, or both. */
export interface ExportedHandler<Env = Record<string, unknown>> {
  fetch?(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
  scheduled?(controller: ScheduledController, env: Env, ctx: ExecutionContext): void | Promise<void>;
}

/** A tensor going into or coming out of a model. */
export interface AiTensor<T extends ArrayBufferView | string[] = ArrayBufferView | string[]> {
  /** float32, float64, int8, uint8, int16, uint16, int32, uint32, int64, uint64 or string. */
  dtype: string;
  shape: number[];
  data: T;
}

/** One input: a typed array (shape taken from the model when only one dimension is free), nested number arrays, strings, or an explicit `{ data, shape }`. */
export type AiInput = ArrayBufferView | number | number[] | number[][] | string | string[] | { data: ArrayBufferView | number[] | string[]; shape?: number[] };

export interface AiRunOptions {
  /** Give up after this long, queue included (never longer than the binding's timeoutMs). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Why an AI call failed: `err.code`; `err.name` is AIUnknownModelError, AIInputError, AIQuotaExceededError, AITimeoutError, AIOverloadedError, AIAbortedError or AIBackendError. */
export type AiErrorCode = 'unknown_model' | 'bad_input' | 'quota_exceeded' | 'timeout' | 'overloaded' | 'aborted' | 'backend_error';

export interface AiError extends Error {
  readonly code: AiErrorCode;
}

/**
 * The AI binding (`env.AI` by default; a function gets it with `"ai": {}` in its config). Built-in
 * models: `@islet/embed-text` ({ text: string[] } → { embedding: float32 [n, 256] }) and
 * `@islet/cosine-top-k` ({ query: [q, d], candidates: [c, d], k } → { indices: int32, scores: float32 [q, k] });
 * other models come from the config's "models".
 */
export interface Ai {
  run(model: string, inputs: Record<string, AiInput>, options?: AiRunOptions): Promise<Record<string, AiTensor>>;
}

/**
 * A service binding (`"services": { "AUTH": "auth" }` in the config gives `env.AUTH`): fetch()
 * calls the function bound, in the same engine, without the network. It is a subrequest.
 */
export interface Fetcher {
  fetch(input: Request | string | URL, init?: RequestInit): Promise<Response>;
}
