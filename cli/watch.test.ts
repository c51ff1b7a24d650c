// The dev watcher's own behaviour where the system refuses it more watches.
import { afterEach, expect, it, vi } from 'vitest';

vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  return {
    ...fs,
    watch: () => {
      throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' });
    },
  };
});

afterEach(() => {
  vi.restoreAllMocks();
});

it('says once that it cannot watch, rather than miss edits without a word', async () => {
  const { SourceWatcher } = await import('./watch.ts');
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  const watcher = new SourceWatcher(() => {});
  watcher.set(['/a/one.ts', '/b/two.ts', '/c/three.ts']);
  expect(warn).toHaveBeenCalledTimes(1);
  expect(String(warn.mock.calls[0]![0])).toMatch(/cannot watch every source folder \(ENOSPC/);
  watcher.close();
});
