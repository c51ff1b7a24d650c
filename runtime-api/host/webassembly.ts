// WebAssembly for tenants, as Workers has it: no code generated from bytes at run time (workerd
// answers "Wasm code generation disallowed by embedder"), and WebAssembly.Memory bounded. A
// module's memory lives outside the V8 heap, where isolated-vm's memoryLimit does not look: before
// this, one tenant's `new WebAssembly.Memory({ initial: 16384 })`, touched page by page, took the
// engine process 2–4 GB past a 128 MB limit (a probe). The runtime's own module (lol-html, for
// HTMLRewriter) is compiled from the intrinsics taken here, before any tenant code runs, and has
// a maximum memory of its own (engine/bundle/lol-html-glue.ts).

import { collectGarbageNow } from './collect-garbage.ts';
import { resumingHere } from '../dispatch/chain-depth.ts';
import { nullProto } from '../webidl/null-prototype.ts';

const PAGE_BYTES = 65536;

// The parts of the WebAssembly namespace used here (the project's TypeScript libs do not declare it).
type Constructor = new (...args: unknown[]) => object;
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(delta: number): number;
}
interface WasmNamespace {
  Module: Constructor;
  Instance: Constructor;
  Memory: (new (descriptor: unknown) => WasmMemory) & { prototype: WasmMemory };
  CompileError: new (message: string) => Error;
  instantiate: (...args: unknown[]) => Promise<unknown>;
}

export interface WasmIntrinsics {
  Module: Constructor;
  Instance: Constructor;
}

let intrinsics: WasmIntrinsics | undefined;

/** WebAssembly's constructors as they were before tenant code could replace them. */
export function wasmIntrinsics(): WasmIntrinsics {
  if (intrinsics === undefined) throw new Error('islet runtime used before init');
  return intrinsics;
}

/**
 * Takes the intrinsics, and has the global WebAssembly refuse compiling from bytes and bound all
 * WebAssembly.Memory objects of this isolate together to `maxMemoryBytes` (their pages, reserved
 * when made or grown, given back when they are collected). The global is the only way to the
 * namespace, so that is done when it is first read or replaced: an isolate whose tenant never
 * touches WebAssembly pays for none of it (~0.03 MB each, measured over 300 hello tenants).
 */
export function confineWebAssembly(maxMemoryBytes: number): void {
  const wasm = (globalThis as { WebAssembly?: WasmNamespace }).WebAssembly;
  if (wasm === undefined) return;
  intrinsics = { Module: wasm.Module, Instance: wasm.Instance };
  const settle = (value: unknown) => {
    defineProperty(globalThis, 'WebAssembly', nullProto({ value, writable: true, configurable: true, enumerable: false }));
  };
  defineProperty(globalThis, 'WebAssembly', nullProto({
    get: () => {
      confine(wasm, maxMemoryBytes);
      settle(wasm);
      return wasm;
    },
    set: settle,
    configurable: true,
    enumerable: false,
  }));
}

// Taken as the runtime loads, before any tenant code: confine() runs when the tenant first reads
// the WebAssembly global, by when its code may have replaced any of these. A probe replaced
// Object.defineProperty first and compiled WebAssembly from bytes, with no bound on its memories;
// another replaced Number and made a 1 GB memory in a 64 MB function.
const { defineProperty, getOwnPropertyDescriptor } = Object;
const { ownKeys, construct, apply } = Reflect;
const toNumber = Number;
const { trunc, floor } = Math;
const PlainWeakRef = WeakRef;
const PlainWeakMap = WeakMap;
const derefOf = WeakRef.prototype.deref;
const weakGet = WeakMap.prototype.get;
const weakSet = WeakMap.prototype.set;
const arrayBufferByteLength = getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get!;

function confine(wasm: WasmNamespace, maxMemoryBytes: number): void {
  // Named apart from the stand-ins below, whose function names (Module, Memory) shadow them inside.
  // (The namespace's own members are as V8 made them: no tenant code reached it before this.)
  const { Module: OriginalModule, Memory: OriginalMemory, CompileError } = wasm;
  const refused = (what: string) => new CompileError(`WebAssembly.${what}(): Wasm code generation disallowed by embedder`);
  const bufferOf = getOwnPropertyDescriptor(OriginalMemory.prototype, 'buffer')!.get!;
  const pagesOf = (memory: WasmMemory) => (apply(arrayBufferByteLength, apply(bufferOf, memory, []), []) as number) / PAGE_BYTES;

  // Module keeps its prototype and its static functions (imports, exports, customSections work on
  // modules, and there are none a tenant could get): only constructing one is refused.
  const TenantModule = function Module() {
    throw refused('Module');
  } as unknown as Constructor;
  const keys = ownKeys(OriginalModule);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (key === 'prototype' || key === 'name' || key === 'length') continue;
    defineProperty(TenantModule, key, nullProto(getOwnPropertyDescriptor(OriginalModule, key)!));
  }
  // Named here: the bundler drops a function expression's own name when the body does not use it.
  defineProperty(TenantModule, 'name', nullProto({ value: 'Module' }));
  defineProperty(TenantModule, 'length', nullProto({ value: 1 }));
  defineProperty(TenantModule, 'prototype', nullProto({ value: OriginalModule.prototype }));
  defineProperty(OriginalModule.prototype, 'constructor', nullProto({ value: TenantModule, writable: true, configurable: true }));
  const instantiate = wasm.instantiate;
  // A Module by its internal slot, not its prototype chain: V8's instantiate compiles anything
  // that is not one as bytes, and a probe's Uint8Array with Module.prototype set passed
  // `instanceof`, compiled, and grew its own memory to 1 GB in a 32 MB function.
  const moduleExports = (OriginalModule as unknown as { exports: (module: unknown) => unknown }).exports;
  const isModule = (value: unknown) => {
    try {
      apply(moduleExports, OriginalModule, [value]);
      return true;
    } catch {
      return false;
    }
  };
  const rejected = (what: string) => new Promise<never>((_, reject) => reject(refused(what)));
  // [name, stand-in, whether only some V8 builds have it]
  const methods: [string, (...args: unknown[]) => Promise<unknown>, boolean][] = [
    ['compile', () => rejected('compile'), false],
    ['compileStreaming', () => rejected('compileStreaming'), true],
    ['instantiateStreaming', () => rejected('instantiateStreaming'), true],
    // A Module could be instantiated, but a tenant cannot come by one: bytes are refused.
    // V8 answers in a task of its own: what follows runs at the caller's depth again.
    ['instantiate', (source: unknown, imports?: unknown) => (isModule(source) ? resumingHere(apply(instantiate, wasm, [source, imports]) as Promise<unknown>) : rejected('instantiate')), false],
  ];
  for (let i = 0; i < methods.length; i++) {
    // By index: destructuring would take the tenant's Array iterator.
    const method = methods[i]!;
    const name = method[0], fn = method[1], optional = method[2];
    if (optional && !(name in wasm)) continue;
    defineProperty(fn, 'name', nullProto({ value: name }));
    defineProperty(fn, 'length', nullProto({ value: 1 }));
    defineProperty(wasm, name, nullProto({ value: fn, writable: true, configurable: true, enumerable: false }));
  }
  defineProperty(wasm, 'Module', nullProto({ value: TenantModule, writable: true, configurable: true, enumerable: false }));

  const budgetPages = floor(maxMemoryBytes / PAGE_BYTES);
  // The memories made here and the pages each holds. A dropped memory puts no pressure on the V8
  // heap, so nothing may collect it for a long time: when the budget looks spent, a collection
  // runs and the live ones are counted again before anything is refused. A plain array walked by
  // index, and a WeakMap's methods taken at load: Set's and WeakMap's are the tenant's to replace.
  interface Held { ref: WeakRef<WasmMemory>; pages: number }
  let live: Held[] = [];
  const heldBy = new PlainWeakMap<object, Held>();
  let reservedPages = 0;
  // A collection (~25 ms of the tenant's CPU) only if a memory was made since the last one.
  let madeSinceCollection = false;
  const reserve = (pages: number, where: string) => {
    if (pages <= budgetPages - reservedPages) return;
    if (!madeSinceCollection) throw refusal(where);
    madeSinceCollection = false;
    collectGarbageNow();
    reservedPages = 0;
    const kept: Held[] = [];
    for (let i = 0; i < live.length; i++) {
      const entry = live[i]!;
      if (apply(derefOf, entry.ref, []) === undefined) continue;
      kept[kept.length] = entry;
      reservedPages += entry.pages;
    }
    live = kept;
    if (pages <= budgetPages - reservedPages) return;
    throw refusal(where);
  };
  const refusal = (where: string) => new RangeError(`${where}: the isolate's WebAssembly memories would pass its memory limit of ${maxMemoryBytes / 1048576} MB`);
  const TenantMemory = function Memory(this: unknown, descriptor: unknown) {
    if (new.target === undefined) throw new TypeError("WebAssembly.Memory must be invoked with 'new'");
    if (descriptor === null || (typeof descriptor !== 'object' && typeof descriptor !== 'function')) {
      return construct(OriginalMemory, [descriptor], new.target); // its TypeError
    }
    // Each member read and converted once, and the numbers checked are the numbers passed on: a
    // getter or valueOf could say one size to the check and another to the constructor.
    const d = descriptor as Record<string, unknown>;
    const index = d.index;
    const initialMember = d.initial;
    const maximumMember = d.maximum;
    const shared = !!d.shared;
    if (index !== undefined && `${index}` !== 'i32') throw new TypeError("WebAssembly.Memory(): islet's isolates make 32-bit memories only");
    const initial = toNumber(initialMember);
    const maximum = maximumMember === undefined ? undefined : toNumber(maximumMember);
    if (initial > 0) reserve(trunc(initial), 'WebAssembly.Memory()');
    const memory = construct(OriginalMemory, [{ initial, maximum, shared }], new.target) as WasmMemory;
    const held: Held = { ref: new PlainWeakRef(memory), pages: pagesOf(memory) };
    reservedPages += held.pages;
    live[live.length] = held;
    apply(weakSet, heldBy, [memory, held]);
    madeSinceCollection = true;
    return memory;
  } as unknown as WasmNamespace['Memory'];
  defineProperty(TenantMemory, 'name', nullProto({ value: 'Memory' }));
  defineProperty(TenantMemory, 'length', nullProto({ value: 1 }));
  defineProperty(TenantMemory, 'prototype', nullProto({ value: OriginalMemory.prototype }));
  defineProperty(OriginalMemory.prototype, 'constructor', nullProto({ value: TenantMemory, writable: true, configurable: true }));
  const grow = OriginalMemory.prototype.grow;
  defineProperty(OriginalMemory.prototype, 'grow', nullProto({
    value: function grow_(this: WasmMemory, delta: unknown): number {
      const pages = toNumber(delta); // once, and passed on as converted
      const held = apply(weakGet, heldBy, [this]) as Held | undefined;
      if (held !== undefined && pages > 0) reserve(trunc(pages), 'WebAssembly.Memory.grow()');
      const before = apply(grow, this, [pages]) as number;
      if (held !== undefined) {
        const now = pagesOf(this);
        reservedPages += now - held.pages;
        held.pages = now;
      }
      return before;
    },
    writable: true,
    configurable: true,
  }));
  defineProperty(OriginalMemory.prototype.grow, 'name', nullProto({ value: 'grow' }));
  defineProperty(wasm, 'Memory', nullProto({ value: TenantMemory, writable: true, configurable: true, enumerable: false }));
}
