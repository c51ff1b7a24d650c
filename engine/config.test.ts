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
});
