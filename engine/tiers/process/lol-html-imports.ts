// What html-rewriter-wasm's glue requires from Node's util, path and fs inside a process sandbox
// (engine/bundle/lol-html-glue.ts points those requires here): Node's own encoders, and the
// module's bytes from the file written beside the runtime file (runtime-file.ts), which the
// sandbox may read.
import { readFileSync as readFile } from 'node:fs';

export const { TextDecoder, TextEncoder } = globalThis;

/** path.join, for the one path the glue makes: the name of its .wasm file, which is not read. */
export function join(...parts: string[]): string {
  return parts.join('/');
}

/** fs.readFileSync of the glue's .wasm file: the runtime's copy, with its memory bounded. */
export function readFileSync(): Uint8Array {
  return readFile(new URL('./lol-html.wasm', import.meta.url));
}

/** The constructors the glue makes its module with, taken when the runtime starts. */
export const { Module: WasmModule, Instance: WasmInstance } = (globalThis as unknown as { WebAssembly: { Module: unknown; Instance: unknown } }).WebAssembly;
