// Gives a JavaScript class the shape WebIDL's JavaScript binding gives an
// interface, so tenant code sees the same property attributes as in browsers
// and workerd.
import { nullProto } from './null-prototype.ts';

const platformPrototypes = new WeakSet<object>();

/**
 * Makes prototype and static members enumerable (WebIDL defines operations and
 * attributes that way; class syntax does not), sets @@toStringTag, and
 * remembers the prototype as a platform object's, so structuredClone can refuse
 * such objects (HTML StructuredSerializeInternal).
 */
export function defineInterface(cls: abstract new (...args: never[]) => unknown, name: string): void {
  markEnumerable(cls.prototype as object, prototypeOwnKeys);
  markEnumerable(cls, constructorOwnKeys);
  Object.defineProperty(cls.prototype, Symbol.toStringTag, nullProto({ value: name, configurable: true }));
  platformPrototypes.add(cls.prototype as object);
}

/** Same as defineInterface for an iterator prototype (WebIDL "default iterator objects"). */
export function defineIteratorPrototype(proto: object, name: string): void {
  markEnumerable(proto, prototypeOwnKeys);
  Object.defineProperty(proto, Symbol.toStringTag, nullProto({ value: name, configurable: true }));
  platformPrototypes.add(proto);
}

/**
 * Remembers an interface made some other way (whatwg-url's URL, the host-backed crypto classes) as
 * a platform interface too, so that structuredClone refuses its objects instead of copying their
 * (absent) own properties.
 */
export function markPlatformInterface(cls: abstract new (...args: never[]) => unknown): void {
  platformPrototypes.add(cls.prototype as object);
}

/** True when proto is the prototype of a Web platform interface defined here. */
export function isPlatformPrototype(proto: object): boolean {
  return platformPrototypes.has(proto);
}

// Own properties that class syntax creates and WebIDL leaves non-enumerable.
const prototypeOwnKeys = new Set(['constructor']);
const constructorOwnKeys = new Set(['length', 'name', 'prototype']);

// One descriptor for every member: interfaces defined on first use are marked after tenant code ran.
const ENUMERABLE = nullProto({ enumerable: true });

function markEnumerable(target: object, skip: Set<string>): void {
  for (const key of Object.getOwnPropertyNames(target)) {
    if (skip.has(key)) continue;
    Object.defineProperty(target, key, ENUMERABLE);
  }
}
