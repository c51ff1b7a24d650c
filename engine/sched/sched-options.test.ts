import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { DEFAULT_QUARANTINE, resolveSchedOptions } from './sched-options.ts';

describe('scheduler options', () => {
  it('override the defaults, quarantine included, and can turn quarantine off', () => {
    const o = resolveSchedOptions({ maxInFlight: 8, quarantine: { strikes: 2 } });
    expect(o.maxInFlight).toBe(8);
    expect(o.quarantine).toEqual({ ...DEFAULT_QUARANTINE, strikes: 2 });
    // A hold of 0 sends quarantine refusals at once; it is the one option where 0 means off.
    expect(resolveSchedOptions({ quarantine: { holdMs: 0 } }).quarantine).toMatchObject({ holdMs: 0, maxHeld: DEFAULT_QUARANTINE.maxHeld });
    expect(resolveSchedOptions({ quarantine: false }).quarantine).toBe(false);
  });

  it('refuse unknown names and values that are not positive numbers, naming them', () => {
    expect(() => resolveSchedOptions({ maxInflight: 8 } as never)).toThrow(/unknown scheduler option "maxInflight"/);
    expect(() => resolveSchedOptions({ tickMs: 0 })).toThrow(/tickMs must be a positive number/);
    expect(() => resolveSchedOptions({ quarantine: { baseMs: 'soon' } as never })).toThrow(/quarantine\.baseMs/);
    expect(() => resolveSchedOptions({ quarantine: { holdMs: -1 } })).toThrow(/quarantine\.holdMs must be a positive number/);
    expect(() => resolveSchedOptions({ quarantine: { maxHeld: 0 } })).toThrow(/quarantine\.maxHeld must be a positive number/);
    expect(() => resolveSchedOptions({ quarantine: { holdms: 5 } as never })).toThrow(/unknown scheduler option "quarantine\.holdms"/);
    // A share: 0 (strikes alone) to 1.
    expect(resolveSchedOptions({ quarantine: { minKillShare: 0 } }).quarantine).toMatchObject({ minKillShare: 0 });
    expect(() => resolveSchedOptions({ quarantine: { minKillShare: 50 } })).toThrow(/quarantine\.minKillShare is a share from 0 to 1, got 50/);
  });

  it('come from the config file\'s "sched", checked when it is read', () => {
    expect(parseConfig({ sched: { maxEventLoopLagMs: 500 }, functions: {} }, '/').sched).toEqual({ maxEventLoopLagMs: 500 });
    expect(() => parseConfig({ sched: { maxEventLoopLagMs: -1 }, functions: {} }, '/')).toThrow(ConfigError);
    expect(() => parseConfig({ sched: 5, functions: {} }, '/')).toThrow(/"sched" must be an object/);
  });
});
