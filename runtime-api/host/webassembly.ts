// WebAssembly for tenants, as Workers has it: no code generated from bytes at run time (workerd
// answers "Wasm code generation disallowed by embedder"), and WebAssembly.Memory bounded. A
// module's memory lives outside the V8 heap, where isolated-vm's memoryLimit does not look: before
// this, one tenant's `new WebAssembly.Memory({ initial: 16384 })`, touched page by page, took the
// engine process 2–4 GB past a 128 MB limit (a probe). The runtime's own module (lol-html, for
// HTMLRewriter) is compiled from the intrinsics taken here, before any tenant code runs, and has
// a maximum memory of its own (engine/bundle/lol-html-glue.ts).

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
    Object.defineProperty(globalThis, 'WebAssembly', { value, writable: true, configurable: true, enumerable: false });
  };
  Object.defineProperty(globalThis, 'WebAssembly', {
    get: () => {
      confine(wasm, maxMemoryBytes);
      settle(wasm);
      return wasm;
    },
    set: settle,
    configurable: true,
    enumerable: false,
  });
}

function confine(wasm: WasmNamespace, maxMemoryBytes: number): void {
  // Named apart from the stand-ins below, whose function names (Module, Memory) shadow them inside.
  const { Module: OriginalModule, Memory: OriginalMemory, CompileError } = wasm;
  const refused = (what: string) => new CompileError(`WebAssembly.${what}(): Wasm code generation disallowed by embedder`);

  // Module keeps its prototype and its static functions (imports, exports, customSections work on
  // modules, and there are none a tenant could get): only constructing one is refused.
  const TenantModule = function Module() {
    throw refused('Module');
  } as unknown as Constructor;
  for (const key of Reflect.ownKeys(OriginalModule)) {
    if (key === 'prototype' || key === 'name' || key === 'length') continue;
    Object.defineProperty(TenantModule, key, Object.getOwnPropertyDescriptor(OriginalModule, key)!);
  }
  // Named here: the bundler drops a function expression's own name when the body does not use it.
  Object.defineProperty(TenantModule, 'name', { value: 'Module' });
  Object.defineProperty(TenantModule, 'length', { value: 1 });
  Object.defineProperty(TenantModule, 'prototype', { value: OriginalModule.prototype });
  Object.defineProperty(OriginalModule.prototype, 'constructor', { value: TenantModule, writable: true, configurable: true });
  const instantiate = wasm.instantiate;
  const methods: Record<string, (...args: unknown[]) => Promise<unknown>> = {
    compile: () => Promise.reject(refused('compile')),
    compileStreaming: () => Promise.reject(refused('compileStreaming')),
    instantiateStreaming: () => Promise.reject(refused('instantiateStreaming')),
    // A Module could be instantiated, but a tenant cannot come by one: bytes are refused.
    instantiate: (source: unknown, ...rest: unknown[]) => (source instanceof OriginalModule ? Reflect.apply(instantiate, wasm, [source, ...rest]) : Promise.reject(refused('instantiate'))),
  };
  for (const [name, fn] of Object.entries(methods)) {
    if (name.endsWith('Streaming') && !(name in wasm)) continue;
    Object.defineProperty(fn, 'name', { value: name });
    Object.defineProperty(fn, 'length', { value: 1 });
    Object.defineProperty(wasm, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }
  Object.defineProperty(wasm, 'Module', { value: TenantModule, writable: true, configurable: true, enumerable: false });

  const budgetPages = Math.floor(maxMemoryBytes / PAGE_BYTES);
  let reservedPages = 0;
  const pagesOf = new WeakMap<object, { pages: number }>();
  const released = new FinalizationRegistry<{ pages: number }>((held) => {
    reservedPages -= held.pages;
  });
  const reserve = (pages: number, where: string) => {
    if (!(pages <= budgetPages - reservedPages)) {
      throw new RangeError(`${where}: the isolate's WebAssembly memories would pass its memory limit of ${maxMemoryBytes / 1048576} MB`);
    }
  };
  const TenantMemory = function Memory(this: unknown, descriptor: unknown) {
    if (new.target === undefined) throw new TypeError("WebAssembly.Memory must be invoked with 'new'");
    // Read once (a getter could say one size to the check and another to the constructor).
    const d = descriptor as { initial?: unknown; maximum?: unknown; shared?: unknown; index?: unknown } | null | undefined;
    const read = d === null || typeof d !== 'object' ? d : { initial: d.initial, maximum: d.maximum, shared: d.shared, index: d.index };
    const initial = read !== null && typeof read === 'object' ? Number(read.initial) : NaN;
    if (Number.isFinite(initial) && initial > 0) reserve(initial, 'WebAssembly.Memory()');
    const memory = Reflect.construct(OriginalMemory, [read], new.target) as WasmMemory;
    const held = { pages: memory.buffer.byteLength / PAGE_BYTES };
    reservedPages += held.pages;
    pagesOf.set(memory, held);
    released.register(memory, held);
    return memory;
  } as unknown as WasmNamespace['Memory'];
  Object.defineProperty(TenantMemory, 'name', { value: 'Memory' });
  Object.defineProperty(TenantMemory, 'length', { value: 1 });
  Object.defineProperty(TenantMemory, 'prototype', { value: OriginalMemory.prototype });
  Object.defineProperty(OriginalMemory.prototype, 'constructor', { value: TenantMemory, writable: true, configurable: true });
  const grow = OriginalMemory.prototype.grow;
  Object.defineProperty(OriginalMemory.prototype, 'grow', {
    value: function grow_(this: WasmMemory, delta: unknown): number {
      const pages = Number(delta);
      const held = pagesOf.get(this);
      if (held !== undefined && Number.isFinite(pages) && pages > 0) reserve(pages, 'WebAssembly.Memory.grow()');
      const before = Reflect.apply(grow, this, [delta]) as number;
      if (held !== undefined) {
        const now = this.buffer.byteLength / PAGE_BYTES;
        reservedPages += now - held.pages;
        held.pages = now;
      }
      return before;
    },
    writable: true,
    configurable: true,
  });
  Object.defineProperty(OriginalMemory.prototype.grow, 'name', { value: 'grow' });
  Object.defineProperty(wasm, 'Memory', { value: TenantMemory, writable: true, configurable: true, enumerable: false });
}
