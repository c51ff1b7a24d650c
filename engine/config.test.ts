import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.ts';

describe('islet.config.json', () => {
  it('carries a function\'s tier and needs, and refuses unknown ones naming the function', () => {
    const config = parseConfig({ functions: { a: { code: 'x', tier: 'auto', needs: ['node-builtins'] }, b: { code: 'y' } } }, '/');
    expect(config.functions.a).toMatchObject({ tier: 'auto', needs: ['node-builtins'] });
    expect(config.functions.b!.tier).toBeUndefined();
    expect(() => parseConfig({ functions: { a: { code: 'x', tier: 'docker' } } }, '/')).toThrow(/function "a": "tier" must be one of/);
    expect(() => parseConfig({ functions: { a: { code: 'x', needs: ['gpu'] } } }, '/')).toThrow(/function "a": "needs" must be a list of node-builtins, native, untrusted-strong/);
  });

  it('names the function or section in every error about a value', () => {
    const fns = (b: Record<string, unknown>) => ({ functions: { ok: { code: 'x' }, b: { code: 'y', ...b }, c: { code: 'z' } } });
    expect(() => parseConfig(fns({ limits: { cpuMs: 0 } }), '/', 'cfg')).toThrow(/^cfg: function "b": limit cpuMs must be an integer/);
    expect(() => parseConfig(fns({ crons: ['61 * * * *'] }), '/', 'cfg')).toThrow(/^cfg: function "b": .*61 \* \* \* \*/);
    // Each cron is a run of its own: a thousand of one were taken, to run it a thousand times a minute.
    expect(() => parseConfig(fns({ crons: Array(1000).fill('* * * * *') }), '/', 'cfg')).toThrow(/^cfg: function "b": "crons" lists 1000 expressions; a function may have at most 32/);
    expect(() => parseConfig(fns({ crons: ['* * * * *', '* * * * *'] }), '/', 'cfg')).toThrow(/^cfg: function "b": "crons" lists the same expression twice/);
    expect(() => parseConfig({ limits: { memoryMb: 1 }, functions: {} }, '/', 'cfg')).toThrow(/^cfg: "limits": limit memoryMb/);
    expect(() => parseConfig({ drainGraceMs: -1, functions: {} }, '/', 'cfg')).toThrow(/^cfg: "drainGraceMs" must be an integer/);
    expect(parseConfig({ drainGraceMs: 2500, functions: {} }, '/').drainGraceMs).toBe(2500);
    expect(() => parseConfig({ trustProxy: 'yes', functions: {} }, '/', 'cfg')).toThrow(/^cfg: "trustProxy" must be true or false/);
    expect(() => parseConfig({ cacheMaxMb: 'lots', functions: {} }, '/', 'cfg')).toThrow(/^cfg: "cacheMaxMb" must be a number of MB/);
    expect(parseConfig({ cacheMaxMb: 64, functions: {} }, '/').cacheMaxMb).toBe(64);
    expect(() => parseConfig(fns({ limits: { cacheMb: -1 } }), '/', 'cfg')).toThrow(/^cfg: function "b": limit cacheMb/);
    expect(() => parseConfig({ sched: { tickMs: 0 }, functions: {} }, '/', 'cfg')).toThrow(/^cfg: "sched": scheduler option tickMs/);
    // A string was spread into its characters: 'unknown scheduler option "quarantine.0"'.
    expect(() => parseConfig({ sched: { quarantine: 'yes' }, functions: {} }, '/', 'cfg')).toThrow(/^cfg: "sched": scheduler option "quarantine" must be false or an object/);
    // A function named __proto__ set the list's prototype instead, and was silently not served.
    expect(() => parseConfig(JSON.parse('{"functions": {"__proto__": {"code": "x"}}}'), '/', 'cfg')).toThrow(/^cfg: function "__proto__": a function's name must be a DNS label/);
    expect(() => parseConfig({ functions: { Upper: { code: 'x' } } }, '/', 'cfg')).toThrow(/^cfg: function "Upper": a function's name must be a DNS label/);
    // Checked before any deploy, once each: deploy's own "function" prefix doubled it, without the file.
    expect(() => parseConfig(fns({ services: { AUTH: 'Not A Function' } }), '/', 'cfg')).toThrow(/^cfg: function "b": service binding "AUTH" must name a function/);
    expect(() => parseConfig(fns({ services: { AI: 'ok' }, ai: {} }), '/', 'cfg')).toThrow(/^cfg: function "b": service binding "AI" is also an env variable or the AI binding$/);
    expect(() => parseConfig(fns({ ai: { binding: '1x' } }), '/', 'cfg')).toThrow(/^cfg: function "b": ai.binding must be a JavaScript identifier$/);
    expect(parseConfig(fns({ services: { AUTH: 'ok' }, ai: {} }), '/').functions.b).toMatchObject({ services: { AUTH: 'ok' }, ai: {} });
  });
});
