// Cold starts measured at the HTTP client: the first request to a function whose isolate is not
// running, for a 1 KB and a 100 KB function, booted plainly, from the runtime snapshot, or
// specialised from the template pool; and a warm hit for comparison. Each cold request goes to a
// function evicted from an engine capped at a few live isolates, so every one boots.
// A benchmark, not a test: `node --no-node-snapshot bench/coldstart.ts [--functions 200]`.
import { parseArgs } from 'node:util';
import { bundleSource } from '../engine/bundle/index.ts';
import { Engine, createGateway, serveGateway, type EngineOptions } from '../engine/index.ts';
import { request } from '../engine/gateway/test-http.ts';
import { emitReport, runAsScript } from './bench-cli.ts';
import { percentile } from './percentile.ts';
import { sized } from './scale.ts';

/**
 * A module of about `bytes` bytes: real functions, so V8 has real code to parse. The handler
 * reaches every helper through a table, as a router reaches its routes: unreferenced ones would
 * be dropped by the bundler's tree shaking (they once were: the "100 KB" function bundled to
 * 211 bytes).
 */
export function functionOfSize(bytes: number, tag: string): string {
  const parts = [`const tag = ${JSON.stringify(tag)};`];
  const names: string[] = [];
  for (let size = 200; size < bytes - 200; ) {
    const i = names.length;
    const next = i === 0 ? 'y' : `helper${i - 1}(y + 1)`;
    const line = `function helper${i}(x) { const y = x * ${i} + ${i % 7}; return y > ${i * 3} ? y - ${i} : ${next}; }`;
    parts.push(line);
    names.push(`helper${i}`);
    size += line.length + names[i]!.length + 3;
  }
  parts.push(`const helpers = [${names.join(', ')}];`);
  parts.push('export default { fetch(request) { return new Response(tag + helpers[request.url.length % 2](1)); } };');
  return parts.join('\n');
}

// Each function's bundle was compiled once when it was deployed, so a cold start finds its code
// cache where the engine keeps one.
const SCENARIOS: { name: string; options: EngineOptions }[] = [
  { name: 'plain boot', options: { snapshot: false, templates: false, codeCache: false } },
  { name: 'snapshot boot', options: { templates: false, codeCache: false } },
  { name: 'snapshot + code cache', options: { templates: false } },
  { name: 'template pool', options: { codeCache: false } },
  { name: 'template pool + code cache', options: {} },
];

export async function coldstart(args: string[]) {
  const { values } = parseArgs({
    args,
    options: { functions: { type: 'string', default: sized('200', '3') }, gap: { type: 'string', default: sized('20', '0') }, json: { type: 'string' } },
  });
  const n = Number(values.functions);
  const gapMs = Number(values.gap);
  const rows: Record<string, unknown>[] = [];
  for (const size of [1024, 100 * 1024]) {
    for (const scenario of SCENARIOS) {
      const engine = new Engine({ ...scenario.options, maxLive: 4 });
      const served = await serveGateway(createGateway(engine), { port: 0, host: '127.0.0.1' });
      for (let i = 0; i < n; i++) await engine.deploy(`f${i}`, { code: functionOfSize(size, `f${i}`) });
      const bundledBytes = Buffer.byteLength(((await bundleSource(functionOfSize(size, 'f0'), 'f0', { format: 'script' })).code));
      const cold: number[] = [];
      const warm: number[] = [];
      for (let i = 0; i < n; i++) {
        await new Promise((r) => setTimeout(r, gapMs));
        const host = `f${i}.localhost`;
        let t = performance.now();
        const res = await request(served.url, { host });
        cold.push(performance.now() - t);
        if (res.status !== 200) throw new Error(`${host}: ${res.status} ${res.text}`);
        t = performance.now();
        await request(served.url, { host });
        warm.push(performance.now() - t);
      }
      cold.sort((a, b) => a - b);
      warm.sort((a, b) => a - b);
      const row = {
        size: size === 1024 ? '1 KB' : '100 KB',
        scenario: scenario.name,
        bundledKB: +(bundledBytes / 1024).toFixed(1),
        coldP50Ms: +percentile(cold, 0.5).toFixed(2),
        coldP99Ms: +percentile(cold, 0.99).toFixed(2),
        warmP50Ms: +percentile(warm, 0.5).toFixed(2),
        warmP99Ms: +percentile(warm, 0.99).toFixed(2),
      };
      rows.push(row);
      console.error(JSON.stringify(row));
      await served.close();
      await engine.close();
    }
  }
  console.table(rows);
  const report = { bench: 'coldstart', functions: n, gapMs, date: new Date().toISOString(), rows };
  return emitReport(report, values.json);
}

runAsScript(import.meta.url, coldstart);
