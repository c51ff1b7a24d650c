// Tenant code shares the isolate's realm with the runtime, Object.prototype included, and V8 reads
// a property descriptor's fields with [[Get]], inherited ones too: once a tenant (or a dependency
// deep-merging JSON with a "__proto__" key) gives Object.prototype `get` or `value`, every plain
// literal descriptor defined after that throws ("Getter must be a function: 1"). runtime-api's own
// descriptors have no prototype (runtime-api/webidl/null-prototype.ts); this gives the same to the
// code islet bundles into isolates without writing it, where it defines properties after tenant
// code ran: esbuild's helpers for modules evaluated on first use, and a few places in dependencies.
// The same goes for option bags a dependency makes for itself and then reads member by member.
import { readFile } from 'node:fs/promises';
import type * as esbuild from 'esbuild';

const URL_PATTERN = /[\\/]urlpattern-polyfill[\\/]dist[\\/]urlpattern\.js$/;
const PONYFILL = /[\\/]web-streams-polyfill[\\/]dist[\\/]ponyfill\.mjs$/;

/** [file, the text as published, the text with null-prototype descriptors and option bags] */
const DEPENDENCY_PATCHES: [RegExp, string, string][] = [
  // Each interface's ancestry, worked out on the first URL or URLSearchParams a tenant uses.
  [
    /[\\/]whatwg-url[\\/]lib[\\/]utils\.js$/,
    `inclusiveInheritedInterfaces: { value: interfaces },
        inheritanceDepth: { value: interfaces.length - 1 }`,
    `inclusiveInheritedInterfaces: { __proto__: null, value: interfaces },
        inheritanceDepth: { __proto__: null, value: interfaces.length - 1 }`,
  ],
  // Every step of a URLSearchParams iterator (its { value, done }).
  [
    /[\\/]whatwg-url[\\/]lib[\\/]utils\.js$/,
    `return Object.defineProperties(
    Object.create(ctorRegistry["%Object.prototype%"]),
    Object.getOwnPropertyDescriptors(object)
  );`,
    `const descriptors = Object.getOwnPropertyDescriptors(object);
  for (const key of Reflect.ownKeys(descriptors)) Object.setPrototypeOf(descriptors[key], null);
  return Object.defineProperties(Object.create(ctorRegistry["%Object.prototype%"]), descriptors);`,
  ],
  // Every URLSearchParams iterator.
  [
    /[\\/]whatwg-url[\\/]lib[\\/]URLSearchParams\.js$/,
    `Object.defineProperty(iterator, utils.iterInternalSymbol, {
    value:`,
    `Object.defineProperty(iterator, utils.iterInternalSymbol, {
    __proto__: null,
    value:`,
  ],
  // The polyfill names its functions as it loads, on a tenant's first URLPattern.
  [URL_PATTERN, `Pe(e,"name",{value:t,configurable:!0})`, `Pe(e,"name",{__proto__:null,value:t,configurable:!0})`],
  // The dictionary a constructor string parses into, and the one a test() or exec() string does:
  // the polyfill reads each member (`baseURL`, and what the string left out) with [[Get]].
  [URL_PATTERN, 'var C=class{#i;#n=[];#t={};', 'var C=class{#i;#n=[];#t={__proto__:null};'],
  [URL_PATTERN, 'let r=new URL(e,t);return{protocol:', 'let r=new URL(e,t);return{__proto__:null,protocol:'],
  // An omitted options argument is WebIDL's empty dictionary, but the streams ponyfill defaults it
  // to `{}` and then reads every member, inherited ones too: `new TransformStream()` (which Request
  // and Response make), `pipeThrough(t)` and `pipeTo(w)` would take a tenant's Object.prototype
  // `size`, `highWaterMark`, `start`, `preventClose` or `signal` as their own. They default to
  // one frozen object with no prototype instead, declared with the first of them.
  [
    PONYFILL,
    'class WritableStream{constructor(e={},t={}){',
    'const islet_noMembers=Object.freeze({__proto__:null});class WritableStream{constructor(e=islet_noMembers,t=islet_noMembers){',
  ],
  [PONYFILL, 'read(e,t={}){', 'read(e,t=islet_noMembers){'],
  [PONYFILL, 'class ReadableStream{constructor(e={},t={}){', 'class ReadableStream{constructor(e=islet_noMembers,t=islet_noMembers){'],
  [PONYFILL, 'pipeThrough(e,t={}){', 'pipeThrough(e,t=islet_noMembers){'],
  [PONYFILL, 'pipeTo(e,t={}){', 'pipeTo(e,t=islet_noMembers){'],
  [
    PONYFILL,
    'class TransformStream{constructor(e={},t={},r={}){',
    'class TransformStream{constructor(e=islet_noMembers,t=islet_noMembers,r=islet_noMembers){',
  ],
];

/** `source`, the file at `path`, with the descriptors it defines after tenant code ran given no prototype. */
export function pollutionSafeSource(path: string, source: string): string {
  for (const [file, published, safe] of DEPENDENCY_PATCHES) {
    if (!file.test(path)) continue;
    // A dependency that no longer has this text needs its patch looked at again: fail the build.
    if (!source.includes(published)) throw new Error(`${path}: the property definition islet makes pollution-safe was not found`);
    source = source.replace(published, safe);
  }
  return source;
}

/**
 * Loads the dependencies pollutionSafeSource patches. Goes after the build's other plugins: one
 * that loads such a file itself (runtime-bundle.ts) passes its text through pollutionSafeSource.
 */
export const pollutionSafeDependencies: esbuild.Plugin = {
  name: 'islet-pollution-safe-dependencies',
  setup(build) {
    const filter = new RegExp([...new Set(DEPENDENCY_PATCHES.map(([file]) => file.source))].join('|'));
    build.onLoad({ filter }, async (args) => ({ contents: pollutionSafeSource(args.path, await readFile(args.path, 'utf8')), loader: 'js' }));
  },
};

// esbuild's helpers, as it writes them (whitespace minified or not). __defProp takes every
// descriptor as a fresh literal: it gets no prototype there. __export walks its argument with
// for-in, which also visits a key a tenant added to Object.prototype: it walks own names instead.
const DEF_PROP = /\b__defProp\s*=\s*Object\.defineProperty\b/g;
const SAFE_DEF_PROP = '__defProp=((define,bare)=>(o,k,d)=>define(o,k,bare(d,null)))(Object.defineProperty,Object.setPrototypeOf)';
const EXPORT_LOOP = /\bfor\s*\(\s*var name in all\s*\)/g;
const SAFE_EXPORT_LOOP = 'for(var name of __getOwnPropNames(all))';

/** `script`, an esbuild bundle, with esbuild's module helpers made safe from a polluted Object.prototype. */
export function pollutionSafeHelpers(script: string): string {
  const defProps = script.match(DEF_PROP)?.length ?? 0;
  const exportLoops = script.match(EXPORT_LOOP)?.length ?? 0;
  // Helpers written another way (a new esbuild) need this looked at again: fail the build.
  if (defProps !== 1 || exportLoops > 1 || (exportLoops === 1 && !/\b__getOwnPropNames\s*=/.test(script))) {
    throw new Error(`esbuild's helpers are not written as islet expects (__defProp ${defProps}, __export ${exportLoops}): see prototype-pollution.ts`);
  }
  return script.replace(DEF_PROP, SAFE_DEF_PROP).replace(EXPORT_LOOP, SAFE_EXPORT_LOOP);
}
