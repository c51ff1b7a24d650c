// What the request log says of a request served by a process sandbox.
import { expect, it } from 'vitest';
import { Engine } from '../../index.ts';
import { ProcessTier } from './index.ts';

const tier = new ProcessTier({ templates: false });
const missing = tier.unavailable();

it.skipIf(missing)('logs the CPU a request used on the process tier, as on isolates', async () => {
  // It was null: the tier metered requests for their limit but did not say what they used.
  const engine = new Engine({ tiers: [tier] });
  try {
    await engine.deploy('cpu-logged', { code: 'export default { fetch() { let x = 0; for (let i = 0; i < 3e6; i++) x += i; return new Response(String(x)); } }', tier: 'process', needs: ['node-builtins'] });
    const records: Record<string, unknown>[] = [];
    const unfollow = engine.logs.follow('cpu-logged', (record) => records.push(record));
    await (await engine.fetch('cpu-logged', new Request('http://x/'))).text();
    await expect.poll(() => records.find((r) => r.msg === 'request')).toBeDefined();
    unfollow();
    const cpuMs = records.find((r) => r.msg === 'request')!.cpuMs;
    expect(typeof cpuMs).toBe('number');
    expect(cpuMs as number).toBeGreaterThan(0);
  } finally {
    await engine.close();
  }
});
