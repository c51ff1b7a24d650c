// `islet bench`: parse, run (warm-up, then the measured window with the server's metrics read on
// either side), then print, save, chart and check the report. Each step is its own file.
import { readFile, writeFile } from 'node:fs/promises';
import { UsageError } from '../args.ts';
import { firstFailure, parseAssertions } from './assert.ts';
import { renderChart } from './chart.ts';
import { warmUp } from './closed.ts';
import { compareReports, formatComparison } from './compare.ts';
import { startFixture, type FixtureServer } from './fixture.ts';
import { benchHelp, parseBenchArgs, type BenchOptions } from './flags.ts';
import { buildReport, checkReport, type BenchReport, type GeneratorUse } from './report.ts';
import { openStages } from './schedule.ts';
import { scrapeMetrics, serverView } from './server-metrics.ts';
import { formatReport } from './table.ts';
import { runOnThreads, type Job } from './threads.ts';

export { benchHelp };
export type { BenchReport };

/** A load generator above this share of its cores is measuring itself as much as the server. */
const SATURATED_PERCENT = 90;

export async function bench(args: string[]): Promise<void> {
  const command = await parseBenchArgs(args);
  if (command.kind === 'help') {
    console.log(benchHelp);
    return;
  }
  if (command.kind === 'compare') {
    const [a, b] = await Promise.all([readReport(command.a), readReport(command.b)]);
    let rows;
    try {
      rows = compareReports(a, b);
    } catch (err) {
      throw new UsageError(`--compare: ${(err as Error).message}`);
    }
    console.log(command.json ? JSON.stringify({ a: command.a, b: command.b, rows }) : formatComparison(command.a, command.b, rows));
    return;
  }
  const options = command.options;
  const conditions = options.assert === undefined ? [] : parseAssertions(options.assert);
  const report = await measure(options);
  if (options.json) console.log(JSON.stringify(report));
  else console.log(formatReport(report));
  if (options.out) await writeFile(options.out, `${JSON.stringify(report, null, 2)}\n`);
  if (options.chart) await writeFile(options.chart, renderChart(report));
  const failure = firstFailure(report, conditions);
  if (failure) {
    console.error(`islet bench: ${failure}`);
    process.exitCode = 1;
  }
}

async function measure(options: BenchOptions): Promise<BenchReport> {
  let fixture: FixtureServer | undefined;
  // Interrupted mid-run, the fixture's server must not outlive us as an orphan.
  const onSignal = (signal: NodeJS.Signals) => {
    void (fixture?.stop() ?? Promise.resolve()).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let urls = options.urls;
    let headers = options.headers;
    let adminToken = options.adminToken;
    if (options.fixture) {
      fixture = await startFixture(options.fixture);
      const origin = fixture.origin;
      urls = (urls.length ? urls : ['/']).map((p) => new URL(p, origin).href);
      headers = { host: fixture.host, ...headers };
      // The server was started with its own token; one from the environment would not match it.
      adminToken = fixture.adminToken;
    }
    const load = { urls, method: options.method, headers, body: options.body, connections: options.connections, timeoutS: options.timeoutS };
    if (options.warmupS > 0) await warmUp({ ...load, durationS: options.warmupS });
    const origin = new URL(urls[0]!).origin;
    const before = await scrapeMetrics(origin, adminToken);
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const open = options.rateRps !== undefined || options.stages !== undefined;
    // autocannon draws its own progress bar on one thread; the open model and threads get a counter.
    const autocannonBar = !open && options.workers === 1 && process.stderr.isTTY === true;
    const stopProgress = autocannonBar ? () => {} : progressLine(options.durationS);
    const job: Job = open
      ? { model: 'open', load: { ...load, correction: options.correction, ...openStages(options.rateRps, options.stages, options.durationS) } }
      : { model: 'closed', load: { ...load, durationS: options.durationS } };
    const measured = await runOnThreads(job, options.workers, autocannonBar).finally(stopProgress);
    const cpu = process.cpuUsage(cpuBefore);
    const threads = options.workers;
    const cpuPercent = ((cpu.user + cpu.system) / 1000 / (performance.now() - wallBefore)) * 100;
    const generator: GeneratorUse = { cpuPercent: Math.round(cpuPercent * 10) / 10, threads, saturated: cpuPercent / threads >= SATURATED_PERCENT };
    const after = await scrapeMetrics(origin, adminToken);
    const server = serverView(before, after, measured.recorder.requests);
    return buildReport({ options: { ...options, urls }, ...measured, generator, server });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await fixture?.stop();
  }
}

/** Seconds elapsed, on a terminal's stderr, where autocannon's own bar is not drawn. */
function progressLine(durationS: number): () => void {
  if (!process.stderr.isTTY) return () => {};
  const started = performance.now();
  const timer = setInterval(() => process.stderr.write(`\rislet bench: ${Math.round((performance.now() - started) / 1000)} s of ${durationS} s `), 1000);
  return () => {
    clearInterval(timer);
    process.stderr.write('\n');
  };
}

async function readReport(file: string): Promise<BenchReport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--compare: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return checkReport(JSON.parse(text), file);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--compare: ${file} is not JSON: ${(err as Error).message}`);
  }
}
