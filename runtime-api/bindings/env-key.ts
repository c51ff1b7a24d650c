// Where the runtime keeps the env object it gives a function's handlers, for cloudflare:workers'
// `env` (cloudflare-workers.ts) to be that same object: a symbol the global object holds, not
// enumerable, set before the tenant's code runs (dispatch.ts; sandbox-runtime.ts on the process tiers).
export const ENV_KEY = Symbol.for('islet.env');
