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
    limits: { memoryMb: 32 },
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
