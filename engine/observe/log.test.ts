// The engine's log output while stdout is slower than the engine writes: held up to a bound, the
// rest dropped and counted, not piled up in the engine's memory until it dies.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LOG = fileURLToPath(new URL('./log.ts', import.meta.url));

describe('createLogger', () => {
  it('refuses an unknown level with a message that lists the known ones (pino threw a stack)', async () => {
    const { createLogger } = await import('./log.ts');
    const { ConfigError } = await import('../errors.ts');
    expect(() => createLogger({ level: 'verbose' })).toThrow(ConfigError);
    expect(() => createLogger({ level: 'verbose' })).toThrow('must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"');
    expect(createLogger({ level: 'warn' }).level).toBe('warn');
  });

  it('holds at most 64 MB of lines stdout has not taken, and says how many it dropped', async () => {
    // 160 MB of lines while nobody reads the pipe; then the reader starts.
    const script = `
      const { createLogger } = await import(${JSON.stringify(LOG)});
      const log = createLogger();
      const line = 'x'.repeat(16000);
      for (let i = 0; i < 10000; i++) log.info(line);
      process.stderr.write('written\\n');
      setTimeout(() => process.exit(0), 6000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => d.toString().includes('written') && resolve()));
    let bytes = 0;
    let tail = '';
    child.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
      tail = (tail + d.toString()).slice(-4096);
    });
    await new Promise((resolve) => child.once('exit', resolve));
    expect(bytes).toBeLessThan(70 * 1024 * 1024);
    expect(bytes).toBeGreaterThan(32 * 1024 * 1024);
    expect(tail).toMatch(/"dropped":\d+,"msg":"log lines dropped/);
  }, 20_000);
});
