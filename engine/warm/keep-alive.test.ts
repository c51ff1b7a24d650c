import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.ts';
import { FixedTtlPolicy, HistogramPolicy } from './keep-alive.ts';

const MIN = 60_000;

describe('FixedTtlPolicy', () => {
  it('keeps every isolate for the same time', () => {
    expect(new FixedTtlPolicy().decide('f')).toEqual({ keepAliveMs: 10 * MIN });
    expect(new FixedTtlPolicy(5_000).decide('f')).toEqual({ keepAliveMs: 5_000 });
  });
});

describe('HistogramPolicy', () => {
  it('falls back to a fixed keep-alive until it has seen enough idle times', () => {
    const p = new HistogramPolicy({ fallbackMs: 7 * MIN });
    for (let i = 0; i < 9; i++) p.recordArrival('f', 30 * MIN);
    expect(p.decide('f')).toEqual({ keepAliveMs: 7 * MIN });
  });

  it('pre-warms before the head of a periodic pattern and unloads after its tail', () => {
    const p = new HistogramPolicy();
    for (let i = 0; i < 50; i++) p.recordArrival('cron', 30 * MIN + (i % 3) * MIN);
    const d = p.decide('cron');
    // Idle times 30–32 min: head bin 30 (minus 10%), tail bin 32 ends at 33 min (plus 10%).
    expect(d.prewarmAfterMs).toBeCloseTo(30 * MIN * 0.9);
    expect(d.keepAliveMs).toBeCloseTo(33 * MIN * 1.1);
  });

  it('keeps a function loaded when requests can come back at once', () => {
    const p = new HistogramPolicy();
    for (let i = 0; i < 50; i++) p.recordArrival('hot', (i % 10) * 1000);
    expect(p.decide('hot')).toEqual({ keepAliveMs: 1 * MIN * 1.1 });
  });

  it('ignores a negative idle time (the wall clock stepped back)', () => {
    const p = new HistogramPolicy();
    for (let i = 0; i < 10; i++) p.recordArrival('f', 30_000);
    p.recordArrival('f', -2_000);
    expect(p.decide('f')).toEqual({ keepAliveMs: 1 * MIN * 1.1 });
    // Not a sample either: nine real ones are still too few to trust.
    const q = new HistogramPolicy({ fallbackMs: 7 * MIN });
    for (let i = 0; i < 9; i++) q.recordArrival('g', 30_000);
    q.recordArrival('g', -1);
    expect(q.decide('g')).toEqual({ keepAliveMs: 7 * MIN });
  });

  it('falls back when most idle times are beyond the histogram', () => {
    const p = new HistogramPolicy({ fallbackMs: 3 * MIN });
    for (let i = 0; i < 20; i++) p.recordArrival('rare', 5 * 60 * MIN);
    for (let i = 0; i < 10; i++) p.recordArrival('rare', 10 * MIN);
    expect(p.decide('rare')).toEqual({ keepAliveMs: 3 * MIN });
    p.forget('rare');
    expect(p.decide('rare')).toEqual({ keepAliveMs: 3 * MIN });
  });
});

describe('keep-alive in the engine', () => {
  const code = 'let n = 0; export default { fetch: () => new Response(String(++n)) }';
  const hit = (e: Engine) => e.fetch('f', new Request('http://f.test/')).then((r) => r.text());

  it('unloads an idle isolate after its keep-alive, and the next request cold-starts it', async () => {
    const engine = new Engine({ keepAlive: new FixedTtlPolicy(1_000), keepAliveSweepMs: 60_000 });
    await engine.deploy('f', { code });
    expect([await hit(engine), await hit(engine)]).toEqual(['1', '2']);
    engine.sweep(Date.now() + 500);
    expect(engine.stats().unloads).toBe(0);
    engine.sweep(Date.now() + 1_500);
    expect(engine.stats().unloads).toBe(1);
    expect(engine.liveCount).toBe(0);
    expect(await hit(engine)).toBe('1');
    expect(engine.stats().coldStarts).toBe(1);
    await engine.close();
  });

  it('unloads early and pre-warms before the predicted next request', async () => {
    const policy = new HistogramPolicy();
    for (let i = 0; i < 20; i++) policy.recordArrival('f', 10 * MIN);
    const engine = new Engine({ keepAlive: policy, keepAliveSweepMs: 60_000 });
    await engine.deploy('f', { code });
    const start = Date.now();
    engine.sweep(start + 1_000);
    expect(engine.stats().unloads).toBe(1);
    engine.sweep(start + 8 * MIN);
    expect(engine.stats().prewarms).toBe(0);
    engine.sweep(start + 9.5 * MIN);
    expect(engine.stats().prewarms).toBe(1);
    // The pre-warm boots in the background (a few ms); a request arriving meanwhile would wait.
    await new Promise((r) => setTimeout(r, 150));
    expect(await hit(engine)).toBe('1');
    expect(engine.stats().coldStarts).toBe(0);
    await engine.close();
  });
});

describe('memory-mapping bound', () => {
  it('evicts idle isolates when the process nears its mapping budget', async () => {
    let maps = 1_000;
    const engine = new Engine({ readMappings: () => maps, keepAliveSweepMs: 60_000, maxRssMb: Infinity });
    const code = 'export default { fetch: () => new Response("ok") }';
    for (const name of ['a', 'b', 'c', 'd']) await engine.deploy(name, { code });
    engine.sweep();
    expect(engine.stats().evictions).toBe(0);
    maps = 10_000_000;
    engine.sweep();
    expect(engine.stats().evictions).toBe(4);
    expect(engine.liveCount).toBe(0);
    await engine.close();
  });
});

describe('memory bound', () => {
  it('evicts least recently used idle isolates when the process passes its RSS bound', async () => {
    let rss = 100 * 1048576;
    const engine = new Engine({ maxRssMb: 200, readRss: () => rss, keepAliveSweepMs: 60_000 });
    const code = 'export default { fetch: () => new Response("ok") }';
    for (const name of ['a', 'b', 'c', 'd']) await engine.deploy(name, { code });
    await engine.fetch('c', new Request('http://c.test/'));
    engine.sweep();
    expect(engine.stats().evictions).toBe(0);
    // 4 isolates in 300 MB: 75 MB each, 100 MB over the bound: the two least recently used go.
    rss = 300 * 1048576;
    engine.sweep();
    expect(engine.stats().evictions).toBe(2);
    expect(engine.liveCount).toBe(2);
    expect(await (await engine.fetch('c', new Request('http://c.test/'))).text()).toBe('ok');
    expect(engine.stats().coldStarts).toBe(0);
    expect(await (await engine.fetch('a', new Request('http://a.test/'))).text()).toBe('ok');
    expect(engine.stats().coldStarts).toBe(1);
    await engine.close();
  });
});
