// Atomics.wait would park an isolate's thread (and its CPU clock runs while it waits): it throws,
// as on workerd. Checked in a real isolate, booted from the snapshot and plainly.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Engine } from '../../engine/index.ts';

const engines: Engine[] = [];

beforeAll(() => {
  engines.push(new Engine(), new Engine({ snapshot: false, templates: false }));
});

afterAll(async () => {
  await Promise.all(engines.map((engine) => engine.close()));
});

it('throws on Atomics.wait, as workerd does, and keeps Atomics.waitAsync', async () => {
  for (const engine of engines) {
    await engine.deploy('waits', {
      limits: { cpuMs: 50, wallMs: 2_000 },
      code: `export default { async fetch() {
        const cell = new Int32Array(new SharedArrayBuffer(4));
        let wait;
        try { wait = Atomics.wait(cell, 0, 0); } catch (err) { wait = err.constructor.name + ': ' + err.message; }
        const later = Atomics.waitAsync(cell, 0, 0);
        setTimeout(() => Atomics.notify(cell, 0), 10);
        return Response.json({ wait, length: Atomics.wait.length, woken: await later.value });
      } }`,
    });
    const started = performance.now();
    const res = await engine.fetch('waits', new Request('http://waits.test/'));
    expect(await res.json()).toEqual({ wait: 'TypeError: Atomics.wait cannot be called in this context', length: 4, woken: 'ok' });
    // Before, the wait held the isolate's thread until its wall-clock limit.
    expect(performance.now() - started).toBeLessThan(1_500);
  }
});
