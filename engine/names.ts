// The shapes of names in a function's config, checked where each is given.

/** A function's name: a DNS label, because the gateway routes by the first label of Host. */
export const FUNCTION_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A binding's name in `env` (the AI binding, a service binding): a JavaScript identifier. */
export const BINDING_NAME = /^[A-Za-z_$][\w$]{0,63}$/;
