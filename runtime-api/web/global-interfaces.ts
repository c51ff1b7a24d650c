// The global scope's identity as workerd gives it, which libraries read to tell a worker from a
// browser or Node: the global object is a ServiceWorkerGlobalScope (by instanceof, constructor and
// tag) but, as on workerd, whose global has prototypes of its own by those names, neither a
// WorkerGlobalScope nor an EventTarget by instanceof; `navigator` is a Navigator. Only the runtime
// makes their objects: constructing or calling one is a TypeError, "Illegal constructor".
import { nullProto } from '../webidl/null-prototype.ts';
import { WORKERS_USER_AGENT } from './navigator.ts';

export function WorkerGlobalScope(): never {
  throw new TypeError('Illegal constructor');
}
export function ServiceWorkerGlobalScope(): never {
  throw new TypeError('Illegal constructor');
}
export function Navigator(): never {
  throw new TypeError('Illegal constructor');
}

/**
 * Tags the interfaces' prototypes, makes the global object a ServiceWorkerGlobalScope, and returns
 * the `navigator` it has. eventTarget is EventTarget.prototype, WorkerGlobalScope's parent.
 */
export function defineGlobalInterfaces(eventTarget: object): object {
  const tag = (fn: Function, name: string) =>
    Object.defineProperty(fn.prototype, Symbol.toStringTag, nullProto({ value: name, configurable: true }));
  tag(WorkerGlobalScope, 'WorkerGlobalScope');
  tag(ServiceWorkerGlobalScope, 'ServiceWorkerGlobalScope');
  tag(Navigator, 'Navigator');
  Object.setPrototypeOf(WorkerGlobalScope.prototype, eventTarget);
  Object.setPrototypeOf(globalThis, ServiceWorkerGlobalScope.prototype);
  // As workerd's: read-only own properties. A worker's code runs on one thread; workerd's
  // navigator.language comes with a later compatibility date than the one islet matches.
  const fixed = (value: unknown) => nullProto({ value, enumerable: true, configurable: true });
  return Object.create(Navigator.prototype, nullProto({
    platform: fixed(''), hardwareConcurrency: fixed(1), userAgent: fixed(WORKERS_USER_AGENT),
  }));
}
