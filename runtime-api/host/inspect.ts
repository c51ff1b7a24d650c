// Renders console arguments as text, close to what Node and browsers print, without needing
// anything but ECMAScript built-ins. Bounded in depth and length: a log call must not be a way to
// make the host copy unbounded strings.

const MAX_DEPTH = 3;
const MAX_ITEMS = 100;
const MAX_LENGTH = 16 * 1024;

export function formatLogArgs(args: unknown[]): string {
  let out = '';
  let i = 0;
  const first = args[0];
  if (typeof first === 'string' && first.includes('%')) {
    out = first.replace(/%[sdifjoOc%]/g, (spec) => {
      if (spec === '%%') return '%';
      if (i + 1 >= args.length) return spec;
      const v = args[++i];
      switch (spec) {
        case '%s': return typeof v === 'string' ? v : inspect(v, 1);
        case '%d': case '%i': return String(typeof v === 'bigint' ? v : parseInt(String(v), 10));
        case '%f': return String(parseFloat(String(v)));
        case '%c': return '';
        case '%j': try { return JSON.stringify(v); } catch { return '[Circular]'; }
        default: return inspect(v, 0);
      }
    });
    i++;
  }
  for (; i < args.length; i++) {
    const v = args[i];
    const piece = typeof v === 'string' ? v : inspect(v, 0);
    out = out ? `${out} ${piece}` : piece;
    if (out.length > MAX_LENGTH) break;
  }
  return out.length > MAX_LENGTH ? `${out.slice(0, MAX_LENGTH)}… (truncated)` : out;
}

export function inspect(value: unknown, depth: number, seen: unknown[] = []): string {
  switch (typeof value) {
    case 'string': return depth === 0 ? value : JSON.stringify(value);
    case 'bigint': return `${value}n`;
    case 'symbol': return value.toString();
    case 'function': return `[Function: ${value.name || '(anonymous)'}]`;
    case 'undefined': return 'undefined';
    case 'number': return Object.is(value, -0) ? '-0' : String(value);
    case 'boolean': return String(value);
  }
  if (value === null) return 'null';
  if (seen.includes(value)) return '[Circular]';
  if (value instanceof Error) return showError(value, depth, seen);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (value instanceof RegExp) return String(value);
  if (depth >= MAX_DEPTH) return Array.isArray(value) ? '[Array]' : '[Object]';
  const next = [...seen, value];
  const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : inspect(v, depth + 1, next));
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map(show);
    if (value.length > MAX_ITEMS) items.push(`... ${value.length - MAX_ITEMS} more items`);
    return `[ ${items.join(', ')} ]`;
  }
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor?.name ?? 'TypedArray';
    const bytes = value instanceof DataView ? [] : Array.from(value as unknown as ArrayLike<number>).slice(0, MAX_ITEMS);
    return `${name}(${(value as unknown as { length?: number }).length ?? value.byteLength}) [ ${bytes.join(', ')} ]`;
  }
  if (value instanceof Map) {
    const items = [...value].slice(0, MAX_ITEMS).map(([k, v]) => `${show(k)} => ${show(v)}`);
    return `Map(${value.size}) { ${items.join(', ')} }`;
  }
  if (value instanceof Set) {
    return `Set(${value.size}) { ${[...value].slice(0, MAX_ITEMS).map(show).join(', ')} }`;
  }
  const tag = (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  const ctor = (value as object).constructor;
  const prefix = typeof tag === 'string' ? `${tag} ` : ctor && ctor !== Object && typeof ctor.name === 'string' ? `${ctor.name} ` : '';
  const keys = Object.keys(value as object);
  if (typeof tag === 'string') {
    // Web API objects keep their state in private fields (the streams ponyfill in fields of its
    // own): what they hold is in their entries or their attributes (getters on the prototype),
    // which is what Node and workerd print.
    if (ENTRIES_SHOWN.has(tag) && keys.length === 0) return showEntries(value as Iterable<[unknown, unknown]>, tag, show);
    if (ATTRIBUTES_SHOWN.has(tag)) return showAttributes(value as object, prefix, show);
  }
  if (keys.length === 0) return `${prefix}{}`;
  const entries = keys.slice(0, MAX_ITEMS).map((k) => {
    const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k);
    let v: unknown;
    try { v = (value as Record<string, unknown>)[k]; } catch { return `${key}: [Getter threw]`; }
    return `${key}: ${show(v)}`;
  });
  return `${prefix}{ ${entries.join(', ')} }`;
}

/**
 * An Error as Node and workerd print one: its stack, then what it carries besides (its own
 * properties, `[cause]`), which was left out: `new Error('query failed', { cause })` showed no
 * cause, and `err.status = 404` no status.
 */
function showError(err: Error, depth: number, seen: unknown[]): string {
  const stack = err.stack || `${err.name}: ${err.message}`;
  if (depth >= MAX_DEPTH) return stack;
  const next = [...seen, err];
  const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : inspect(v, depth + 1, next));
  const extras: string[] = [];
  const keys = Object.keys(err).filter((k) => k !== 'stack' && k !== 'message');
  for (const k of keys.slice(0, MAX_ITEMS)) {
    const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k);
    try {
      extras.push(`${key}: ${show((err as unknown as Record<string, unknown>)[k])}`);
    } catch {
      extras.push(`${key}: [Getter threw]`);
    }
  }
  if (Object.hasOwn(err, 'cause') && !keys.includes('cause')) {
    try {
      extras.push(`[cause]: ${show(err.cause)}`);
    } catch {
      extras.push('[cause]: [Getter threw]');
    }
  }
  return extras.length ? `${stack} { ${extras.join(', ')} }` : stack;
}

/** Interfaces printed as their entries: `Headers(1) { 'content-type' => 'text/plain' }`. */
const ENTRIES_SHOWN = new Set(['Headers', 'URLSearchParams', 'FormData']);
/** Interfaces printed as their attributes: `URL { href: 'https://a/', … }`. */
const ATTRIBUTES_SHOWN = new Set([
  'URL', 'URLPattern', 'Request', 'Response', 'Blob', 'File', 'AbortSignal', 'AbortController', 'Event', 'CustomEvent',
  'ReadableStream', 'WritableStream', 'TransformStream', 'TextEncoder', 'TextDecoder', 'CryptoKey', 'DOMException',
]);

function showEntries(value: Iterable<[unknown, unknown]>, tag: string, show: (v: unknown) => string): string {
  const items: string[] = [];
  try {
    for (const [k, v] of value) {
      if (items.length === MAX_ITEMS) {
        items.push('...');
        break;
      }
      items.push(`${show(k)} => ${show(v)}`);
    }
  } catch {
    return `${tag} {}`;
  }
  return `${tag}(${items.length}) { ${items.join(', ')} }`;
}

/** Attributes made on first read (a body's stream, a request's signal): logging must not make them. */
const MADE_ON_READ = new Set(['body', 'signal']);

function showAttributes(value: object, prefix: string, show: (v: unknown) => string): string {
  const items: string[] = [];
  for (let proto = Object.getPrototypeOf(value); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      // Own `get` only: a data property's descriptor inherits one when Object.prototype has it.
      if (!Object.hasOwn(descriptor, 'get') || !descriptor.get || MADE_ON_READ.has(name) || items.length >= MAX_ITEMS) continue;
      try {
        items.push(`${name}: ${show(Reflect.get(proto, name, value))}`);
      } catch {
        // An attribute that throws for this object (a getter meant for another kind) is left out.
      }
    }
  }
  return items.length ? `${prefix}{ ${items.join(', ')} }` : `${prefix}{}`;
}
