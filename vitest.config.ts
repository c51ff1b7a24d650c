import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // isolated-vm needs its own V8 flags and crashes in worker threads: one child process per file.
    pool: 'forks',
    execArgv: ['--no-node-snapshot'],
    include: ['engine/**/*.test.ts', 'runtime-api/**/*.test.ts', 'cli/**/*.test.ts', 'fixtures/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
