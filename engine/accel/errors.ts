// What can go wrong with an accelerator call, as typed errors. They reach the tenant as errors of
// the same kind inside its isolate (runtime-api/bindings/ai.ts), by `code`; they never become a
// host failure or an HTTP status of their own.

export type AccelErrorCode = 'unknown_model' | 'bad_input' | 'quota_exceeded' | 'timeout' | 'overloaded' | 'aborted' | 'backend_error';

export abstract class AccelError extends Error {
  abstract readonly code: AccelErrorCode;
}

export class UnknownModelError extends AccelError {
  readonly code = 'unknown_model';
  constructor(model: string, known: readonly string[]) {
    super(`no model named ${JSON.stringify(model)} is available to this function (available: ${known.join(', ') || 'none'})`);
  }
}

/** Inputs that do not match the model's declared names, dtypes or shapes. */
export class BadInputError extends AccelError {
  readonly code = 'bad_input';
}

/** The tenant already has as many calls pending as its binding allows. */
export class QuotaExceededError extends AccelError {
  readonly code = 'quota_exceeded';
  constructor(tenant: string, maxPending: number) {
    super(`function "${tenant}" already has ${maxPending} AI calls pending, its quota (ai.maxPending)`);
  }
}

export class AccelTimeoutError extends AccelError {
  readonly code = 'timeout';
  constructor(model: string, timeoutMs: number) {
    super(`the call to model "${model}" did not finish within ${timeoutMs} ms`);
  }
}

/** The model's queue is full: every tenant is being refused, not only this one. */
export class OverloadedError extends AccelError {
  readonly code = 'overloaded';
  constructor(model: string, maxQueued: number) {
    super(`model "${model}" is overloaded: ${maxQueued} calls are already queued; retry later`);
  }
}

export class AbortedError extends AccelError {
  readonly code = 'aborted';
}

/** The backend failed on the batch this call was in (or the model could not be loaded). */
export class BackendError extends AccelError {
  readonly code = 'backend_error';
}
