import { describe, expect, it } from 'vitest';
import { createOutboundFetch } from '../egress/index.ts';
import { DEFAULT_LIMITS } from '../limits.ts';
import { IsolateTier } from '../tiers/isolate/index.ts';
import type { TenantLog } from '../tiers/tier.ts';
import { createSnapshot, runtimeSnapshot } from './index.ts';

const code = 'export default { fetch: (r) => new Response(new URL(r.url).pathname + " " + typeof __islet_runtime) }';
const request = { method: 'GET', url: 'http://s.test/path', headers: [], body: null };

function recordingLog(): TenantLog & { events: string[] } {
  const events: string[] = [];
  return { events, console() {}, event: (level, message) => void events.push(`${level}: ${message}`) };
}

describe('runtime snapshot', () => {
  it('is made from the runtime, and isolates booted from it serve requests', async () => {
    const failures: unknown[] = [];
    expect(await runtimeSnapshot((err) => failures.push(err))).toBeDefined();
    expect(failures).toEqual([]);
    const log = recordingLog();
    const sandbox = await new IsolateTier({ snapshot: true, templates: false }).start({ name: 'snap', code, limits: DEFAULT_LIMITS, env: {}, outbound: createOutboundFetch(), log });
    expect(await sandbox.invoke(request)).toMatchObject({ status: 200, body: '/path undefined' });
    expect(log.events).toEqual([]);
    sandbox.stop();
  });

  it('falls back to a plain boot, with a warning, when the snapshot cannot be made', async () => {
    expect(() => createSnapshot('throw new Error("no snapshot today")')).toThrow('no snapshot today');
    const log = recordingLog();
    const warnings: string[] = [];
    const tier = new IsolateTier({
      templates: false,
      onWarning: (message) => warnings.push(message),
      makeSnapshot: async (onFailure) => {
        try {
          return createSnapshot('throw new Error("no snapshot today")');
        } catch (err) {
          onFailure(err);
          return undefined;
        }
      },
    });
    const sandbox = await tier.start({ name: 'plain', code, limits: DEFAULT_LIMITS, env: {}, outbound: createOutboundFetch(), log });
    expect(await sandbox.invoke(request)).toMatchObject({ status: 200, body: '/path undefined' });
    expect(warnings).toEqual(['runtime snapshot failed: isolates boot without it']);
    sandbox.stop();
  });
});
