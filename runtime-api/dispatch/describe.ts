// How a value a tenant threw (or returned instead of a Response) is named in an error message,
// the same on every tier: the isolate's runtime and the process tiers' runtime both use this.
// It never calls the value's own methods, which may throw or lie.

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object' || typeof value === 'function') return `an object (${Object.prototype.toString.call(value)})`;
  return typeof value === 'string' ? `the string ${JSON.stringify(value.slice(0, 40))}` : String(value);
}
