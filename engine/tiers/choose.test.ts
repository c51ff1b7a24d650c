import { describe, expect, it } from 'vitest';
import { checkTierFields, chooseTier } from './choose.ts';
import type { IsolationTier, Need, TierName } from './tier.ts';

function fakeTier(name: TierName, coldStartMs: number, accepts: Need[], missing?: string): IsolationTier {
  return {
    name,
    capabilities: { coldStartMs, densityPerGb: 1, accepts, strength: 1 },
    unavailable: () => missing,
    start: () => Promise.reject(new Error('not in this test')),
  };
}

const isolate = fakeTier('isolate', 1, []);
const processTier = fakeTier('process', 30, ['node-builtins']);
const container = fakeTier('container', 40, ['node-builtins'], 'bubblewrap (bwrap) is not installed');
const gvisor = fakeTier('gvisor', 270, ['node-builtins', 'untrusted-strong']);
const microvm = fakeTier('microvm', 5_800, ['node-builtins', 'untrusted-strong']);

describe('chooseTier', () => {
  it('defaults to the isolate tier', () => {
    expect(chooseTier(undefined, [], [processTier, isolate])).toMatchObject({ tier: isolate, reason: 'the default tier' });
  });

  it('a named tier must satisfy the needs and be available, and the error says what is missing', () => {
    expect(chooseTier('process', ['node-builtins'], [isolate, processTier]).tier).toBe(processTier);
    expect(() => chooseTier('isolate', ['node-builtins'], [isolate, processTier])).toThrow('tier "isolate" does not satisfy node-builtins; tiers that do: process');
    expect(() => chooseTier(undefined, ['node-builtins'], [isolate, processTier])).toThrow(/no tier was named, so the default one was tried: name one of them, or "auto"/);
    expect(() => chooseTier('container', [], [isolate, container])).toThrow('tier "container" is not available on this host: bubblewrap (bwrap) is not installed');
    expect(() => chooseTier('microvm', [], [isolate])).toThrow('tier "microvm" is not part of this engine (it has: isolate)');
  });

  it('auto picks the cheapest available tier that satisfies every need, and says why', () => {
    expect(chooseTier('auto', [], [gvisor, processTier, isolate]).tier).toBe(isolate);
    expect(chooseTier('auto', ['node-builtins'], [gvisor, container, processTier, isolate]).tier).toBe(processTier);
    const strong = chooseTier('auto', ['untrusted-strong'], [gvisor, container, processTier, isolate]);
    expect(strong.tier).toBe(gvisor);
    expect(strong.reason).toContain('needs untrusted-strong');
  });

  it('auto takes a microVM for untrusted-strong only where gVisor, which starts faster, is not available', () => {
    expect(chooseTier('auto', ['untrusted-strong'], [microvm, gvisor, processTier, isolate]).tier).toBe(gvisor);
    const noGvisor = fakeTier('gvisor', 270, ['node-builtins', 'untrusted-strong'], 'runsc is not installed');
    const strong = chooseTier('auto', ['untrusted-strong'], [microvm, noGvisor, processTier, isolate]);
    expect(strong.tier).toBe(microvm);
    expect(strong.reason).toContain('skipped gvisor (runsc is not installed)');
  });

  it('auto skips unavailable tiers, naming them, and fails clearly when none is left', () => {
    const offline = fakeTier('process', 30, ['node-builtins'], 'no node');
    expect(chooseTier('auto', ['node-builtins'], [offline, gvisor]).reason).toContain('skipped process (no node)');
    expect(() => chooseTier('auto', ['node-builtins'], [isolate, offline, container])).toThrow('no available tier satisfies node-builtins: process (no node); container (bubblewrap (bwrap) is not installed)');
    expect(() => chooseTier('auto', ['untrusted-strong'], [isolate, processTier])).toThrow('no tier of this engine (isolate, process) satisfies untrusted-strong');
  });
});

describe('checkTierFields', () => {
  it('accepts known tiers and needs, deduplicated, and refuses the rest', () => {
    expect(checkTierFields('auto', ['node-builtins', 'node-builtins'])).toEqual({ tier: 'auto', needs: ['node-builtins'] });
    expect(checkTierFields(undefined, undefined)).toEqual({ tier: undefined, needs: [] });
    expect(() => checkTierFields('vm', undefined)).toThrow(/"tier" must be one of isolate, process, container, gvisor, microvm, auto/);
    expect(() => checkTierFields(undefined, 'node-builtins')).toThrow(/"needs" must be a list/);
    expect(() => checkTierFields(undefined, ['gpu'])).toThrow(/"needs" must be a list/);
  });
});
