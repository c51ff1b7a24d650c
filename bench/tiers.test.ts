// The tier benchmark runs on a tiny duration and reports a well-formed row per tier it could run
// (figures are never asserted: the machine is shared).
import { describe, expect, it } from 'vitest';
import { benchTiers } from './tiers.ts';

describe('bench:tiers', () => {
  it('produces a row per available tier, and says why others were skipped', async () => {
    // Not microvm: its row boots four or five VMs, seconds of emulated CPU each, beside the rest of
    // the suite; npm run bench:tiers measures it.
    const report = await benchTiers(['--cold', '2', '--requests', '20', '--duration', '0.3', '--connections', '2', '--tiers', 'isolate,process,container,gvisor']);
    const tiers = [...report.rows.map((r) => r.tier), ...Object.keys(report.skipped)];
    expect(tiers.sort()).toEqual(['container (bubblewrap)', 'gvisor', 'isolate', 'process']);
    for (const row of report.rows) {
      expect(row).toMatchObject({ coldP50Ms: expect.any(Number), warmP50Ms: expect.any(Number), reqPerSec: expect.any(Number), errors: 0, warmOverheadMs: expect.any(Number) });
    }
  }, 60_000);
});
