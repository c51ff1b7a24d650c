// WebAssembly memories count against the function's memory limit (fixtures/diff/webassembly.js
// checks the rest against workerd): before, one Memory took the engine gigabytes past memoryMb.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Engine } from '../../engine/index.ts';

let engine: Engine;

beforeAll(() => {
  engine = new Engine();
});

afterAll(async () => {
  await engine.close();
});

it('bounds all of an isolate\'s WebAssembly memories together by its memory limit, made or grown', async () => {
  await engine.deploy('memories', {
    // A refusal may run a full collection first (~25 ms): CPU is not what this tests.
    limits: { memoryMb: 32, cpuMs: 1_000 },
    code: `export default { fetch() {
      const tryIt = (make) => { try { make(); return 'ok'; } catch (err) { return err.constructor.name + ': ' + err.message; } };
      const kept = [];
      return Response.json({
        whole: tryIt(() => new WebAssembly.Memory({ initial: 32 * 16 + 1 })),
        half: tryIt(() => kept.push(new WebAssembly.Memory({ initial: 16 * 16 }))),
        rest: tryIt(() => kept.push(new WebAssembly.Memory({ initial: 16 * 16 + 1 }))),
        grown: tryIt(() => kept[0].grow(16 * 16 + 1)),
        small: tryIt(() => kept.push(new WebAssembly.Memory({ initial: 1 }))),
        getter: tryIt(() => { let reads = 0; new WebAssembly.Memory({ get initial() { return reads++ === 0 ? 1 : 100000; } }); }),
      });
    } }`,
  });
  const res = await engine.fetch('memories', new Request('http://m.test/'));
  const refused = "RangeError: WebAssembly.Memory(): the isolate's WebAssembly memories would pass its memory limit of 32 MB";
  expect(await res.json()).toEqual({
    whole: refused,
    half: 'ok',
    rest: refused,
    grown: "RangeError: WebAssembly.Memory.grow(): the isolate's WebAssembly memories would pass its memory limit of 32 MB",
    small: 'ok',
    // The descriptor is read once: the size checked is the size made.
    getter: 'ok',
  });
});

it('reads a descriptor or a delta once, whatever it is, and counts what it made', async () => {
  // Each of these took the engine gigabytes past the limit in a probe: a function as the
  // descriptor skipped the check, and valueOf said 0 to the check and 8192 pages to V8.
  await engine.deploy('tricks', {
    // Refusals may collect first, as above: CPU is not what this tests.
    limits: { memoryMb: 32, cpuMs: 1_000 },
    code: `export default { fetch() {
      const tryIt = (make) => { try { return make(); } catch (err) { return err.constructor.name; } };
      const twoFaced = () => { let calls = 0; return { valueOf: () => (calls++ === 0 ? 0 : 8192) }; };
      const grown = new WebAssembly.Memory({ initial: 0 });
      grown.grow(twoFaced());
      return Response.json({
        fn: tryIt(() => new WebAssembly.Memory(Object.assign(function () {}, { initial: 1024 })).buffer.byteLength),
        initial: tryIt(() => new WebAssembly.Memory({ initial: twoFaced() }).buffer.byteLength),
        grown: grown.buffer.byteLength,
        wide: tryIt(() => new WebAssembly.Memory({ initial: 1, index: 'i64' })),
      });
    } }`,
  });
  const res = await engine.fetch('tricks', new Request('http://t.test/'));
  expect(await res.json()).toEqual({ fn: 'RangeError', initial: 0, grown: 0, wide: 'TypeError' });
});

it('gives a dropped memory\'s pages back, collecting when the budget looks spent', async () => {
  // A dropped memory puts no pressure on the heap: without the collection, the dead reservations
  // refused the tenant for good.
  await engine.deploy('churn', {
    // The collection that frees the dead reservations is ~25 ms, and more on a loaded machine
    // (a CI run hit the default 50 ms): CPU is not what this tests.
    limits: { memoryMb: 32, cpuMs: 1_000 },
    code: `export default { fetch() {
      try { new WebAssembly.Memory({ initial: 20 * 16 }); return new Response('made'); }
      catch (err) { return new Response(err.message); }
    } }`,
  });
  const answers: string[] = [];
  for (let i = 0; i < 4; i++) answers.push(await (await engine.fetch('churn', new Request('http://c.test/'))).text());
  expect(answers).toEqual(['made', 'made', 'made', 'made']);
});

it('holds, whatever the tenant replaced before it first touched WebAssembly', async () => {
  // The confinement is put in place on the global's first read, after tenant code ran: a probe
  // replaced Object.defineProperty first and compiled from bytes with no memory bound, and
  // replaced Number and made a 1 GB memory in a 64 MB function.
  const cases: Record<string, string> = {
    defineProperty: `const dp = Object.defineProperty; Object.defineProperty = (o) => o;
      try { new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])); return 'compiled'; } catch (e) { return e.message; } finally { Object.defineProperty = dp; }`,
    number: `const N = Number; let n = 0; globalThis.Number = () => ({ [Symbol.toPrimitive]: () => (n++ > 0 ? 16000 : 0) });
      try { return String(new WebAssembly.Memory({ initial: 16000 }).buffer.byteLength); } catch (e) { return e.message; } finally { globalThis.Number = N; }`,
    iterator: `const it = Array.prototype[Symbol.iterator]; Array.prototype[Symbol.iterator] = function* () {};
      try { return String(typeof WebAssembly.compile); } finally { Array.prototype[Symbol.iterator] = it; }`,
  };
  const answers: Record<string, string> = {};
  for (const [name, body] of Object.entries(cases)) {
    await engine.deploy(`wasm-${name.toLowerCase()}`, { limits: { memoryMb: 64 }, code: `export default { fetch() { return new Response((() => { ${body} })()); } }` });
    answers[name] = await (await engine.fetch(`wasm-${name.toLowerCase()}`, new Request('http://w.test/'))).text();
  }
  expect(answers.defineProperty).toBe('WebAssembly.Module(): Wasm code generation disallowed by embedder');
  expect(answers.number).toBe("WebAssembly.Memory(): the isolate's WebAssembly memories would pass its memory limit of 64 MB");
  expect(answers.iterator).toBe('function');
  // Bytes dressed as a Module (its prototype set) are still bytes: V8 would compile them.
  await engine.deploy('wasm-fake-module', { limits: { memoryMb: 32 }, code: `export default { async fetch() {
    const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
    Object.setPrototypeOf(bytes, WebAssembly.Module.prototype);
    return new Response(await WebAssembly.instantiate(bytes, {}).then(() => 'compiled', (e) => e.message));
  } }` });
  expect(await (await engine.fetch('wasm-fake-module', new Request('http://w.test/'))).text()).toBe('WebAssembly.instantiate(): Wasm code generation disallowed by embedder');
  // And after the iterator was replaced, compile is still the refusing stand-in.
  await engine.deploy('wasm-after-iterator', { code: `export default { async fetch() {
    const it = Array.prototype[Symbol.iterator]; Array.prototype[Symbol.iterator] = function* () {};
    const compile = WebAssembly.compile; Array.prototype[Symbol.iterator] = it;
    return new Response(await compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])).then(() => 'compiled', (e) => e.message));
  } }` });
  expect(await (await engine.fetch('wasm-after-iterator', new Request('http://w.test/'))).text()).toBe('WebAssembly.compile(): Wasm code generation disallowed by embedder');
});
