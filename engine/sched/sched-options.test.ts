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

  it('refuse values past their range, fractions of counts and of times, each named with its range', () => {
    expect(() => resolveSchedOptions({ tickMs: 1e10 })).toThrow(/scheduler option tickMs must be an integer from 1 to 60000, got 10000000000/);
    expect(() => resolveSchedOptions({ tickMs: 2.5 })).toThrow(/tickMs must be an integer/);
    expect(() => resolveSchedOptions({ scaleOutBusyShare: 50 })).toThrow(/scaleOutBusyShare is a share from 0.01 to 1, got 50/);
    expect(() => resolveSchedOptions({ maxInFlight: 1e9 })).toThrow(/maxInFlight must be an integer from 1 to 1000000/);
    expect(() => resolveSchedOptions({ maxQueueWaitMs: 3e9 })).toThrow(/maxQueueWaitMs must be an integer/);
    expect(() => resolveSchedOptions({ quarantine: { strikes: 0.5 } })).toThrow(/quarantine\.strikes must be an integer from 1/);
    expect(() => resolveSchedOptions({ quarantine: { maxHeld: 0.1 } })).toThrow(/quarantine\.maxHeld must be an integer from 1/);
    expect(() => resolveSchedOptions({ quarantine: { baseMs: 5_000, maxMs: 1_000 } })).toThrow(/quarantine\.baseMs \(5000\) must not be more than quarantine\.maxMs \(1000\)/);
    expect(resolveSchedOptions({ tickMs: 60_000, scaleOutBusyShare: 1, quarantine: { holdMs: 0, minKillShare: 0 } })).toMatchObject({ tickMs: 60_000, scaleOutBusyShare: 1 });
  });

  it('come from the config file\'s "sched", checked when it is read', () => {
    expect(parseConfig({ sched: { maxEventLoopLagMs: 500 }, functions: {} }, '/').sched).toEqual({ maxEventLoopLagMs: 500 });
    expect(() => parseConfig({ sched: { maxEventLoopLagMs: -1 }, functions: {} }, '/')).toThrow(ConfigError);
    expect(() => parseConfig({ sched: 5, functions: {} }, '/')).toThrow(/"sched" must be an object/);
  });
});
