// Tenant code shares the runtime's realm, so Object.prototype is the tenant's too: a tenant (or a
// dependency deep-merging JSON with a "__proto__" key) can give it `get`, `value` or any other key.
// V8 reads a property descriptor's fields, and the runtime reads its own option bags, with [[Get]],
// inherited fields included, so an ordinary literal then means something else or throws ("Getter
// must be a function"). Objects made by nullProto have no prototype: only what is written counts.

// Taken before any tenant code runs, so that replacing Object.setPrototypeOf cannot undo this.
const { setPrototypeOf } = Object;

/** `fields` itself, its prototype made null: for a fresh literal the runtime gives to V8 or reads itself. */
export function nullProto<T extends object>(fields: T): T {
  return setPrototypeOf(fields, null) as T;
}

/**
 * The empty dictionary WebIDL makes of an omitted (undefined or null) options argument: no members,
 * not even inherited ones. One object for every call, as it is read on per-request paths.
 */
export const NO_MEMBERS: Readonly<Record<string, unknown>> = Object.freeze(nullProto({}));
