import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { DEFAULT_QUARANTINE, resolveSchedOptions } from './sched-options.ts';

describe('scheduler options', () => {
  it('override the defaults, quarantine included, and can turn quarantine off', () => {
    const o = resolveSchedOptions({ maxInFlight: 8, quarantine: { strikes: 2 } as never });
    expect(o.maxInFlight).toBe(8);
    expect(o.quarantine).toEqual({ ...DEFAULT_QUARANTINE, strikes: 2 });
    expect(resolveSchedOptions({ quarantine: false }).quarantine).toBe(false);
  });

  it('refuse unknown names and values that are not positive numbers, naming them', () => {
    expect(() => resolveSchedOptions({ maxInflight: 8 } as never)).toThrow(/unknown scheduler option "maxInflight"/);
    expect(() => resolveSchedOptions({ tickMs: 0 })).toThrow(/tickMs must be a positive number/);
    expect(() => resolveSchedOptions({ quarantine: { baseMs: 'soon' } as never })).toThrow(/quarantine\.baseMs/);
  });

  it('come from the config file\'s "sched", checked when it is read', () => {
    expect(parseConfig({ sched: { maxEventLoopLagMs: 500 }, functions: {} }, '/').sched).toEqual({ maxEventLoopLagMs: 500 });
    expect(() => parseConfig({ sched: { maxEventLoopLagMs: -1 }, functions: {} }, '/')).toThrow(ConfigError);
    expect(() => parseConfig({ sched: 5, functions: {} }, '/')).toThrow(/"sched" must be an object/);
  });
});
