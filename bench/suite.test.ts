// The suite on its tiny size: every benchmark runs and leaves a well-formed report. Nothing here
// looks at how fast anything was.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BENCHMARKS, lastJsonLine, suite, type SuiteResults } from './suite.ts';

// A benchmark with a smoke test of its own is not run a second time here: one that another test
// file of bench/ imports (bench/<name>.test.ts, or system-benches.test.ts for several). The
// noisy-neighbour bench ran twice before this looked beyond file names: 37 s of the tiny suite.
const OTHER_TESTS = readdirSync(import.meta.dirname)
  .filter((f) => f.endsWith('.test.ts') && f !== path.basename(import.meta.filename))
  .map((f) => readFileSync(path.join(import.meta.dirname, f), 'utf8'));
const OWN_TEST = BENCHMARKS.filter((b) => OTHER_TESTS.some((source) => source.includes(`from './${b.file}'`))).map((b) => b.name);
const HERE = BENCHMARKS.map((b) => b.name).filter((name) => !OWN_TEST.includes(name));

describe('npm run bench', () => {
  it('runs every benchmark without a smoke test of its own on a tiny size and writes latest.json and latest.md', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'islet-suite-'));
    try {
      const returned = await suite(['--tiny', '--out-dir', dir, '--only', HERE.join(',')]);
      const saved: SuiteResults = JSON.parse(await readFile(path.join(dir, 'latest.json'), 'utf8'));
      expect(saved).toEqual(JSON.parse(JSON.stringify(returned)));
      expect(saved.tiny).toBe(true);
      expect(Object.keys(saved.benchmarks)).toEqual(HERE);
      for (const [name, r] of Object.entries(saved.benchmarks)) expect(r.status, `${name}: ${JSON.stringify(r)}`).not.toBe('failed');
      // The ones in this repository today must have run and reported rows under their own name.
      for (const name of ['throughput', 'peers', 'coldstart', 'function-snapshot', 'density', 'keepalive']) {
        const r = saved.benchmarks[name]!;
        expect(r.status, name).toBe('ok');
        if (r.status !== 'ok') continue;
        expect(r.report.bench).toBe(name);
        expect(Array.isArray(r.report.rows) && r.report.rows.length > 0, name).toBe(true);
      }
      const peerRows = (saved.benchmarks.peers as { report: { rows: { workload: string; peer: string; errors: number }[] } }).report.rows;
      expect(peerRows.map((r) => `${r.workload}/${r.peer}`)).toEqual(['hello', 'json-2k'].flatMap((w) => ['node', 'hono-node', 'workerd', 'islet'].map((p) => `${w}/${p}`)));
      expect(peerRows.every((r) => r.errors === 0)).toBe(true);
      const md = await readFile(path.join(dir, 'latest.md'), 'utf8');
      expect(md).toMatch(/^# islet benchmarks \(tiny run/);
      expect(md).toMatch(/## peers[\s\S]*\| workload \| peer \|/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('takes the last JSON object a benchmark prints as its report', () => {
    expect(lastJsonLine('table\n{"bench":"a","rows":[]}\n')).toEqual({ bench: 'a', rows: [] });
    expect(lastJsonLine('{"bench":"old"}\n{broken\n[1,2]\n')).toEqual({ bench: 'old' });
    expect(lastJsonLine('nothing here')).toBeUndefined();
  });
});
