import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.ts';

describe('idle collection in the engine', () => {
  const hit = (e: Engine, name: string) => e.fetch(name, new Request(`http://${name}.test/`)).then((r) => r.status);

  it('collects in a function idle for idleGcAfterMs, once per idle spell, a few per sweep', async () => {
    const engine = new Engine({ idleGcAfterMs: 1_000, keepAliveSweepMs: 60_000 });
    const code = 'export default { fetch: () => new Response("ok") }';
    for (const name of ['a', 'b', 'c']) {
      await engine.deploy(name, { code });
      expect(await hit(engine, name)).toBe(200);
    }
    engine.sweep(Date.now() + 500);
    expect(engine.stats().reclaims).toBe(0);
    // Two a sweep (IDLE_GCS_PER_SWEEP), then the third; then none until a function is used again.
    engine.sweep(Date.now() + 1_500);
    expect(engine.stats().reclaims).toBe(2);
    await new Promise((r) => setTimeout(r, 200));
    engine.sweep(Date.now() + 1_500);
    expect(engine.stats().reclaims).toBe(3);
    engine.sweep(Date.now() + 1_500);
    expect(engine.stats().reclaims).toBe(3);
    expect(await hit(engine, 'a')).toBe(200);
    engine.sweep(Date.now() + 1_500);
    expect(engine.stats().reclaims).toBe(4);
    expect(engine.liveCount).toBe(3);
    await engine.close();
  });
});
