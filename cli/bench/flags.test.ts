import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../args.ts';
import { BENCH_DEFAULTS, parseBenchArgs, parseDurationS, parseHeaders, parseStages } from './flags.ts';

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const c = await parseBenchArgs(args, env);
  if (c.kind !== 'run') throw new Error(`expected a run, got ${c.kind}`);
  return c.options;
}

describe('parseBenchArgs', () => {
  it('fills the defaults', async () => {
    const o = await run(['http://127.0.0.1:8787/']);
    expect(o).toMatchObject({ urls: ['http://127.0.0.1:8787/'], connections: BENCH_DEFAULTS.connections, durationS: 10, warmupS: 3, method: 'GET', correction: true, workers: 1, json: false });
    expect(o.rateRps).toBeUndefined();
    expect(o.adminToken).toBeUndefined();
  });

  it('reads every flag', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'islet-flags-'));
    await writeFile(path.join(dir, 'body.json'), '{"a":1}');
    const o = await run([
      'http://a.test/x', 'http://b.test/y', '-c', '8', '-d', '500ms', '--warmup', '0', '-m', 'post', '-H', 'content-type=application/json',
      '-H', 'X-Thing: v=1', '--body', path.join(dir, 'body.json'), '--rate', '250', '--uncorrected', '--workers', '2', '--json', '--out', 'o.json',
      '--chart', 'c.svg', '--assert', 'p99<5ms', '--timeout', '2s',
    ], { ISLET_ADMIN_TOKEN: 'tok' });
    expect(o).toMatchObject({
      urls: ['http://a.test/x', 'http://b.test/y'], connections: 8, durationS: 0.5, warmupS: 0, method: 'POST',
      headers: { 'content-type': 'application/json', 'x-thing': 'v=1' }, rateRps: 250, correction: false, workers: 2,
      json: true, out: 'o.json', chart: 'c.svg', assert: 'p99<5ms', timeoutS: 2, adminToken: 'tok',
    });
    expect(o.body?.toString()).toBe('{"a":1}');
  });

  it('reads more URLs from --url-file, skipping blanks and comments', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'islet-flags-'));
    await writeFile(path.join(dir, 'urls.txt'), '# routes\nhttp://a.test/one\n\n  http://a.test/two  \n');
    const o = await run(['http://a.test/', '--url-file', path.join(dir, 'urls.txt')]);
    expect(o.urls).toEqual(['http://a.test/', 'http://a.test/one', 'http://a.test/two']);
    await expect(parseBenchArgs(['--url-file', path.join(dir, 'none.txt')], {})).rejects.toThrow(/--url-file: cannot read/);
  });

  it('takes paths with --fixture, and the length of the run from --stages', async () => {
    const o = await run(['--fixture', 'json-api', '/greeting?name=x', '--stages', '2s:10,3s:50']);
    expect(o.fixture).toBe('json-api');
    expect(o.urls).toEqual(['/greeting?name=x']);
    expect(o.durationS).toBe(5);
    expect(o.stages).toEqual([{ durationS: 2, targetRps: 10 }, { durationS: 3, targetRps: 50 }]);
  });

  it('recognises help and compare', async () => {
    expect(await parseBenchArgs(['--help'])).toEqual({ kind: 'help' });
    expect(await parseBenchArgs(['--compare', 'a.json', 'b.json', '--json'])).toEqual({ kind: 'compare', a: 'a.json', b: 'b.json', json: true });
  });

  it.each([
    [[], /needs a URL/],
    [['ftp://x/'], /only http and https/],
    [['not a url'], /not a URL/],
    [['http://x/', '-c', '0'], /--connections must be an integer/],
    [['http://x/', '-d', '10 minutes'], /--duration must be a duration/],
    [['http://x/', '--rate', '0'], /--rate must be above 0/],
    [['http://x/', '-c', '2', '--workers', '3'], /cannot exceed --connections/],
    [['http://x/', '--stages', '10s'], /not duration:rate/],
    [['http://x/', '--stages', '1s:5', '-d', '3'], /give one/],
    [['http://x/', '--body', '/no/such/file'], /cannot read/],
    [['--fixture', '../etc'], /fixture folder name/],
    [['--fixture', 'hello', 'greeting'], /give paths/],
    [['--compare', 'a.json'], /two files/],
    [['http://x/', '--bogus'], /Unknown option/],
    // autocannon sends only its own list, and threw a stack of its own at PURGE once the run began.
    [['http://x/', '-m', 'purge'], /--method must be one of GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, got "PURGE"/],
  ])('refuses %j with a UsageError', async (args, message) => {
    const p = parseBenchArgs(args as string[], {});
    await expect(p).rejects.toBeInstanceOf(UsageError);
    await expect(p).rejects.toThrow(message);
  });
});

describe('small parsers', () => {
  it('reads durations in their units', () => {
    expect(parseDurationS('10', 'd')).toBe(10);
    expect(parseDurationS('250ms', 'd')).toBe(0.25);
    expect(parseDurationS('2m', 'd')).toBe(120);
    expect(parseDurationS('0', 'warmup', true)).toBe(0);
    expect(() => parseDurationS('0', 'd')).toThrow(UsageError);
    expect(() => parseDurationS('-1s', 'd')).toThrow(UsageError);
  });

  it('reads headers as k=v or k: v', () => {
    expect(parseHeaders(['A=1', 'b: two words', 'c=x=y'])).toEqual({ a: '1', b: 'two words', c: 'x=y' });
    expect(() => parseHeaders(['novalue'])).toThrow(/name=value/);
  });

  it('reads stages', () => {
    expect(parseStages('10s:100,30s:1000')).toEqual([{ durationS: 10, targetRps: 100 }, { durationS: 30, targetRps: 1000 }]);
    expect(() => parseStages('10s:fast')).toThrow(/requests per second/);
  });
});
