// Timers inside an isolate, through the engine: the order HTML (and workerd) gives them, and the
// nesting clamp that keeps a timer re-arming itself at 0 ms from making the host spin.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/index.ts';

let engine: Engine;

beforeAll(async () => {
  engine = new Engine();
  await engine.deploy('timers', {
    code: `export default {
      async fetch(request) {
        const test = new URL(request.url).pathname;
        if (test === '/order') {
          const order = [];
          await new Promise((done) => {
            setTimeout(() => order.push('a'), 2);
            setTimeout(() => order.push('b'), 1);
            setTimeout(() => order.push('c'), 0);
            setTimeout(() => { order.push('d'); }, 0);
            setTimeout(done, 20);
          });
          return Response.json(order);
        }
        if (test === '/many') {
          // Thousands set in one long turn: the host hears of them while some are already due.
          const fired = [];
          const delays = [];
          await new Promise((done) => {
            for (let i = 0; i < 3000; i++) {
              const delay = (i * 7919) % 50;
              delays.push(delay);
              setTimeout(() => { fired.push(i); if (fired.length === 3000) done(); }, delay);
            }
          });
          const late = fired.filter((id, k) => k > 0 && (delays[id] < delays[fired[k - 1]] || (delays[id] === delays[fired[k - 1]] && id < fired[k - 1])));
          return Response.json({ fired: fired.length, outOfOrder: late.length });
        }
        if (test === '/microtasks') {
          const log = [];
          await new Promise((done) => {
            setTimeout(() => { log.push('t1'); Promise.resolve().then(() => log.push('m1')).then(() => log.push('m2')); }, 0);
            setTimeout(() => { log.push('t2'); done(); }, 0);
          });
          return Response.json(log);
        }
        // Each callback sets the next at 0 ms: from the 6th level on HTML makes it 4 ms.
        const started = Date.now();
        const gaps = [];
        await new Promise((done) => {
          let last = Date.now();
          const step = (n) => {
            const now = Date.now();
            gaps.push(now - last);
            last = now;
            if (n === 30) return done();
            setTimeout(step, 0, n + 1);
          };
          setTimeout(step, 0, 1);
        });
        return Response.json({ gaps, total: Date.now() - started });
      },
    };`,
    // What is tested is order, not limits: 3,000 timers' wake-ups can pass the default 50 ms of
    // CPU on a machine busy with the rest of the suite.
    limits: { cpuMs: 2_000 },
  });
});

afterAll(() => engine.close());

describe('timers', () => {
  it('run 0 ms timers before 1 ms ones set earlier, as HTML and workerd do', async () => {
    expect(await (await engine.fetch('timers', new Request('http://t.test/order'))).json()).toEqual(['c', 'd', 'b', 'a']);
  });

  it('keep that order when one turn sets thousands, however late the host hears of them', async () => {
    const res = await engine.fetch('timers', new Request('http://t.test/many'));
    expect(await res.json()).toEqual({ fired: 3000, outOfOrder: 0 });
  });

  it('run microtasks between timers, as between tasks', async () => {
    expect(await (await engine.fetch('timers', new Request('http://t.test/microtasks'))).json()).toEqual(['t1', 'm1', 'm2', 't2']);
  });

  it('clamp timers nested more than 5 deep to 4 ms, so a 0 ms chain cannot spin', async () => {
    const { gaps, total } = await (await engine.fetch('timers', new Request('http://t.test/chain'))).json() as { gaps: number[]; total: number };
    expect(gaps).toHaveLength(30);
    // The last 24 steps are clamped to 4 ms or more each. Date.now() reads whole ms, so a single
    // gap may read 3; their sum is one difference of two readings, off by at most 1.
    expect(gaps.slice(6).reduce((sum, g) => sum + g, 0)).toBeGreaterThanOrEqual(24 * 4 - 1);
    expect(total).toBeGreaterThanOrEqual(24 * 4 - 1);
  });
});
