// What html-rewriter-wasm's glue requires from Node's util, path and fs, as an isolate has it
// (engine/bundle/lol-html-glue.ts points those requires here).
import { host } from '../host/host-calls.ts';
import { wasmIntrinsics } from '../host/webassembly.ts';

export { TextDecoder, TextEncoder } from '../web/index.ts';

/** path.join, for the one path the glue makes: the name of its .wasm file, which is not read. */
export function join(...parts: string[]): string {
  return parts.join('/');
}

/** fs.readFileSync of the glue's .wasm file: the host has the bytes, read once per process. */
export function readFileSync(): Uint8Array {
  return new Uint8Array(host().htmlRewriterWasm());
}

/** The constructors the glue makes its module with: the runtime's, taken before tenant code ran. */
export const { Module: WasmModule, Instance: WasmInstance } = wasmIntrinsics();
