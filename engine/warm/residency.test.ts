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

describe('the live isolate cap in the sweep', () => {
  it('evicts idle isolates down to the cap, least recently used first, never busy ones', async () => {
    const { Residency } = await import('./residency.ts');
    const { ReplicaSet } = await import('../sched/index.ts');
    const { FixedTtlPolicy } = await import('./keep-alive.ts');
    const { pino } = await import('pino');
    const stopped: string[] = [];
    const sandbox = (name: string, inFlight = 0) => ({ alive: true, inFlight, held: 0, stop: () => stopped.push(name) });
    const slots = ['a', 'b', 'c', 'd', 'e', 'f'].map((name, i) => {
      const replicas = new ReplicaSet();
      // 'a' is the least recently used, and busy; the rest idle in order of use.
      replicas.add(sandbox(name, name === 'a' ? 1 : 0) as never);
      return { name, replicas, lastUseMs: Date.now() + i };
    });
    const residency = new Residency({
      maxLive: 3, maxRssBytes: Infinity, readRss: () => 0, maxMappings: Infinity, readMappings: () => 0,
      keepAlive: new FixedTtlPolicy(3_600_000), idleGcAfterMs: Infinity, idleGcsPerSweep: 0, logger: pino({ level: 'silent' }), prewarm: () => {},
    });
    residency.sweep(slots, Date.now());
    expect(stopped).toEqual(['b', 'c', 'd']);
    expect(residency.live(slots)).toBe(3);
    residency.sweep(slots, Date.now());
    expect(stopped).toHaveLength(3);
  });
});
