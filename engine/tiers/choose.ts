// Which tier runs a function: the one it names, or for "auto" the cheapest one on this host that
// satisfies its declared needs. The answer says why, so a deploy can tell its caller.
import { ConfigError } from '../errors.ts';
import { NEEDS, TIER_NAMES, type IsolationTier, type Need, type TierName } from './tier.ts';

export type TierRequest = TierName | 'auto';

export interface TierChoice {
  tier: IsolationTier;
  /** One sentence: why this tier. */
  reason: string;
}

/** Checks the `tier` and `needs` fields of a function's config. */
export function checkTierFields(tier: unknown, needs: unknown): { tier: TierRequest | undefined; needs: Need[] } {
  if (tier !== undefined && tier !== 'auto' && !TIER_NAMES.includes(tier as TierName)) {
    throw new ConfigError(`"tier" must be one of ${[...TIER_NAMES, 'auto'].join(', ')}, got ${JSON.stringify(tier)}`);
  }
  if (needs !== undefined && (!Array.isArray(needs) || needs.some((n) => !NEEDS.includes(n as Need)))) {
    throw new ConfigError(`"needs" must be a list of ${NEEDS.join(', ')}, got ${JSON.stringify(needs)}`);
  }
  return { tier: tier as TierRequest | undefined, needs: [...new Set((needs ?? []) as Need[])] };
}

/**
 * `tiers` holds every tier the engine knows, in any order; no request means the isolate tier. A named tier must satisfy the needs
 * and be available; "auto" takes the available tier with the lowest cold start that satisfies
 * them, and when none is available names what each candidate lacks.
 */
export function chooseTier(requested: TierRequest | undefined, needs: readonly Need[], tiers: readonly IsolationTier[]): TierChoice {
  const request = requested ?? 'isolate';
  const satisfies = (t: IsolationTier) => needs.every((n) => t.capabilities.accepts.includes(n));
  const asked = needs.length ? `needs ${needs.join(', ')}` : 'declares no needs';
  if (request !== 'auto') {
    const tier = tiers.find((t) => t.name === request);
    if (!tier) throw new ConfigError(`tier "${request}" is not part of this engine (it has: ${tiers.map((t) => t.name).join(', ')})`);
    const unmet = needs.filter((n) => !tier.capabilities.accepts.includes(n));
    if (unmet.length) {
      // With no tier named, the default one was assumed: say how to have one chosen instead.
      const hint = requested ? '' : ' (no tier was named, so the default one was tried: name one of them, or "auto" for the cheapest available)';
      throw new ConfigError(`tier "${request}" does not satisfy ${unmet.join(', ')}; tiers that do: ${tiers.filter(satisfies).map((t) => t.name).join(', ') || 'none'}${hint}`);
    }
    const missing = tier.unavailable();
    if (missing) throw new ConfigError(`tier "${request}" is not available on this host: ${missing}`);
    return { tier, reason: requested ? `tier "${request}" was asked for` : 'the default tier' };
  }
  const candidates = tiers.filter(satisfies).sort((a, b) => a.capabilities.coldStartMs - b.capabilities.coldStartMs);
  const skipped: string[] = [];
  for (const tier of candidates) {
    const missing = tier.unavailable();
    if (!missing) {
      const why = skipped.length ? `; skipped ${skipped.join('; ')}` : '';
      return { tier, reason: `auto: the function ${asked}, and "${tier.name}" is the cheapest available tier that satisfies them (cold start ~${tier.capabilities.coldStartMs} ms)${why}` };
    }
    skipped.push(`${tier.name} (${missing})`);
  }
  if (!candidates.length) throw new ConfigError(`no tier of this engine (${tiers.map((t) => t.name).join(', ')}) satisfies ${needs.join(', ')}`);
  throw new ConfigError(`no available tier satisfies ${needs.join(', ')}: ${skipped.join('; ')}`);
}
