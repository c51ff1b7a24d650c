import { describe, expect, it } from 'vitest';
import { createOutboundFetch } from '../egress/index.ts';
import { DEFAULT_LIMITS } from '../limits.ts';
import { IsolateTier } from '../tiers/isolate/index.ts';
import { TemplatePool } from './template-pool.ts';

const tick = () => new Promise((r) => setTimeout(r, 5));
const FAST = { refillDelayMs: 0 };

class Fake {
  stopped = false;
  readonly memoryMb: number;
  constructor(memoryMb: number) {
    this.memoryMb = memoryMb;
  }
  stop() {
    this.stopped = true;
  }
}

function fakePool(options = {}) {
  options = { ...FAST, ...options };
  let booted = 0;
  const errors: unknown[] = [];
  let fail = false;
  const pool = new TemplatePool<Fake>(
    async (mb) => {
      if (fail) throw new Error('cannot boot');
      booted++;
      return new Fake(mb);
    },
    (err) => errors.push(err),
    options,
  );
  return { pool, errors, booted: () => booted, failNext: (v: boolean) => (fail = v) };
}

describe('TemplatePool', () => {
  it('misses at first, then refills in the background and hands out ready templates', async () => {
    const { pool, booted } = fakePool();
    expect(pool.take(128)).toBeUndefined();
    await expect.poll(() => pool.stats()).toEqual([{ memoryMb: 128, ready: 2, target: 2 }]);
    const t = pool.take(128)!;
    expect(t.memoryMb).toBe(128);
    await expect.poll(() => booted()).toBe(3);
    await expect.poll(() => pool.stats()[0]!.ready).toBe(2);
  });

  it('closes once the boot in flight has ended and its template is stopped, and boots nothing after', async () => {
    // An isolate still being created when its process exited crashed isolated-vm at exit.
    let finish!: () => void;
    const made: Fake[] = [];
    const pool = new TemplatePool<Fake>(
      (mb) => new Promise((resolve) => (finish = () => resolve(made[made.push(new Fake(mb)) - 1]!))),
      () => {},
      FAST,
    );
    pool.take(128);
    await expect.poll(() => made.length === 0 && typeof finish === 'function').toBe(true);
    let closed = false;
    void pool.close().then(() => (closed = true));
    await tick();
    expect(closed).toBe(false);
    finish();
    await expect.poll(() => closed).toBe(true);
    expect(made.map((t) => t.stopped)).toEqual([true]);
    await tick();
    expect(made).toHaveLength(1);
  });

  it('keeps shelves per memory limit and grows a shelf up to maxSize on misses', async () => {
    const { pool } = fakePool({ maxSize: 3 });
    for (let i = 0; i < 5; i++) pool.take(64);
    pool.take(256);
    await expect.poll(() => pool.stats()).toEqual([{ memoryMb: 64, ready: 3, target: 3 }, { memoryMb: 256, ready: 2, target: 2 }]);
    expect(pool.take(64)!.memoryMb).toBe(64);
  });

  it('keeps at most maxTotal templates over all memory sizes, giving up the least recently taken', async () => {
    // Functions may pick any of thousands of memory sizes; each used once grew a shelf of its own.
    const { pool } = fakePool({ maxTotal: 5 });
    for (let mb = 100; mb < 160; mb++) {
      pool.take(mb);
      await tick();
      const total = pool.stats().reduce((n, s) => n + s.ready, 0);
      expect(total).toBeLessThanOrEqual(5);
    }
    // The newest sizes hold the templates; an older one's were stopped to make room.
    const ready = pool.stats().filter((s) => s.ready > 0).map((s) => s.memoryMb);
    expect(Math.min(...ready)).toBeGreaterThan(150);
    expect(pool.take(159)?.memoryMb).toBe(159);
    pool.close();
  });

  it('settles when the shelves want more than maxTotal between them, instead of trading templates forever', async () => {
    // Three sizes each wanting 8 under a bound of 16 once took one template back and forth
    // between shelves without end (~160 boots a second, no traffic).
    const { pool, booted } = fakePool({ maxTotal: 16 });
    for (const mb of [128, 256, 512]) for (let i = 0; i < 8; i++) pool.take(mb);
    await new Promise((r) => setTimeout(r, 200));
    const settled = booted();
    await new Promise((r) => setTimeout(r, 200));
    expect(booted()).toBe(settled);
    const ready = pool.stats().map((s) => s.ready);
    expect(ready.reduce((a, b) => a + b, 0)).toBe(16);
    expect(Math.max(...ready) - Math.min(...ready)).toBeLessThanOrEqual(1);
    pool.close();
  });

  it('shrinks a shelf that has not missed for a while', async () => {
    const { pool } = fakePool({ shrinkAfterMs: 0 });
    pool.take(128);
    await expect.poll(() => pool.stats()[0]!.ready).toBe(2);
    await new Promise((r) => setTimeout(r, 2));
    pool.take(128);
    await expect.poll(() => pool.stats()[0]!.target).toBe(1);
  });

  it('shrinks idle shelves without a take, and lets a memory size nobody takes go, unless warmed', async () => {
    const { pool } = fakePool({ shrinkAfterMs: 1_000, dropAfterMs: 10_000 });
    pool.warm(128);
    pool.take(64);
    pool.take(64);
    await expect.poll(() => pool.stats()).toEqual([{ memoryMb: 128, ready: 1, target: 1 }, { memoryMb: 64, ready: 3, target: 3 }]);
    const start = Date.now();
    pool.shrinkIdle(start + 1_000);
    expect(pool.stats()).toEqual([{ memoryMb: 128, ready: 1, target: 1 }, { memoryMb: 64, ready: 2, target: 2 }]);
    pool.shrinkIdle(start + 2_000);
    // Down to minSize while still in use...
    pool.shrinkIdle(start + 3_000);
    expect(pool.stats()).toEqual([{ memoryMb: 128, ready: 1, target: 1 }, { memoryMb: 64, ready: 1, target: 1 }]);
    // ...and to none once nobody has taken one for dropAfterMs; the warmed size stays.
    pool.shrinkIdle(start + 11_000);
    expect(pool.stats()).toEqual([{ memoryMb: 128, ready: 1, target: 1 }]);
  });

  it('reports boot failures without retrying in a loop, and stops templates on close', async () => {
    const { pool, errors, failNext } = fakePool();
    failNext(true);
    pool.take(128);
    await expect.poll(() => errors.length).toBe(1);
    await tick();
    expect(errors).toHaveLength(1);
    failNext(false);
    pool.take(128);
    await expect.poll(() => pool.stats()[0]!.ready).toBeGreaterThan(0);
    const ready = pool.take(128)!;
    pool.close();
    expect(ready.stopped).toBe(false);
    await tick();
    expect(pool.stats()[0]!.ready).toBe(0);
  });
});

describe('template pool in the isolate tier', () => {
  it('specialises ready isolates for new functions, each with only its own code', async () => {
    const tier = new IsolateTier({ templates: FAST });
    const log = { console() {}, event() {} };
    const spec = (name: string) => ({
      name, limits: DEFAULT_LIMITS, env: {}, outbound: createOutboundFetch(), log,
      code: `globalThis.mine = (globalThis.mine ?? []).concat("${name}"); export default { fetch: () => Response.json(globalThis.mine) }`,
    });
    const first = await tier.start(spec('a'));
    for (let i = 0; i < 100 && (tier.templateStats()[0]?.ready ?? 0) < 1; i++) await tick();
    expect(tier.templateStats()[0]!.ready).toBeGreaterThan(0);
    const second = await tier.start(spec('b'));
    const req = { method: 'GET', url: 'http://t.test/', headers: [], body: null };
    expect((await first.invoke(req)).body).toBe('["a"]');
    expect((await second.invoke(req)).body).toBe('["b"]');
    first.stop();
    second.stop();
    tier.close();
  });
});
