// The human-readable report: what a person reads after a run, in the order they look for it.
import type { BenchReport, LatencySummary } from './report.ts';

export function formatReport(r: BenchReport): string {
  const lines: string[] = [];
  const s = r.settings;
  const model = r.model === 'closed'
    ? `closed model, ${s.connections} connections`
    : `open model, ${s.stages ? `stages ${s.stages.map((x) => `${x.durationS}s:${x.targetRps}`).join(',')}` : `${s.rateRps} req/s`}, up to ${s.connections} connections`;
  lines.push(`${r.target.method} ${r.target.urls.join(' ')}${r.target.fixture ? ` (fixture ${r.target.fixture})` : ''}`);
  lines.push(`${model}, ${r.elapsedS.toFixed(1)} s measured after ${s.warmupS} s warm-up`, '');
  lines.push(`${thousands(r.requests.perSecond)} req/s   ${bytes(r.throughput.bytesPerSecond)}/s   ${thousands(r.requests.total)} responses`, '');
  const latencyRows = [['latency', 'p50', 'p90', 'p99', 'p99.9', 'max', 'mean'], latencyRow(r.model === 'open' && s.correction ? 'corrected' : 'ms', r.latencyMs)];
  if (r.rawLatencyMs) latencyRows.push(latencyRow(s.correction ? 'raw' : 'ms (raw)', r.rawLatencyMs));
  lines.push(...alignColumns(latencyRows));
  if (r.model === 'open' && s.correction) lines.push('corrected: from the intended send time (coordinated omission); raw: from the actual send');
  lines.push('', errorLine(r));
  if (r.routes.length > 1) {
    lines.push('', ...alignColumns([['route', 'responses', 'non-2xx', 'p50 ms', 'p99 ms', 'max ms'], ...r.routes.map((x) => [x.url, String(x.requests), String(x.non2xx), String(x.latencyMs.p50), String(x.latencyMs.p99), String(x.latencyMs.max)])]));
  }
  const g = r.generator;
  lines.push('', `load generator: ${g.cpuPercent.toFixed(0)}% of a core${g.threads > 1 ? ` over ${g.threads} threads` : ''}${g.saturated ? '  WARNING: saturated; the numbers measure the load generator too (try --workers or another machine)' : ''}`);
  lines.push(...serverLines(r));
  return lines.join('\n');
}

function latencyRow(label: string, l: LatencySummary): string[] {
  return [label, ...[l.p50, l.p90, l.p99, l.p999, l.max, l.mean].map((v) => `${v.toFixed(3)}`)];
}

function errorLine(r: BenchReport): string {
  const e = r.errors;
  const kinds = (['connect', 'timeout', 'reset', 'other'] as const).filter((k) => e[k] > 0).map((k) => `${k} ${e[k]}`);
  const statuses = Object.entries(e.byStatus).filter(([status]) => !status.startsWith('2')).map(([status, n]) => `${status} ×${n}`);
  const parts = [e.total ? `errors ${e.total}: ${kinds.join(', ')}` : 'errors 0', e.non2xx ? `non-2xx ${e.non2xx}: ${statuses.join(', ')}` : 'non-2xx 0'];
  const examples = Object.entries(e.examples).map(([code, message]) => `  ${code}: ${message}`);
  return [parts.join('   '), ...examples].join('\n');
}

function serverLines(r: BenchReport): string[] {
  const v = r.server;
  if (!v) return [];
  if (!v.available) return [`server metrics unavailable (${v.reason})`];
  const head = [
    v.processCpuMs !== undefined && `CPU ${v.processCpuMs.toFixed(0)} ms (${v.cpuUsPerRequest} µs per response)`,
    v.rssBytes !== undefined && `RSS ${bytes(v.rssBytes)}`,
    v.isolatesAlive !== undefined && `${v.isolatesAlive} isolates alive`,
  ].filter(Boolean);
  const rows = [['function', 'requests', 'cpu ms', 'heap', 'cold starts', 'limit kills', 'shed'], ...v.functions.map((f) => [
    f.function, String(f.requests), f.cpuMs.toFixed(1), bytes(f.heapBytes), String(f.coldStarts),
    Object.entries(f.limitKills).filter(([, n]) => n > 0).map(([l, n]) => `${l} ${n}`).join(', ') || '0', String(f.shed),
  ])];
  return ['', `server (/_islet/metrics, same window): ${head.join(', ') || 'no process metrics'}`, ...(v.functions.length ? alignColumns(rows) : [])];
}

/** Pads each column to its widest cell; the first column left-aligned, the others right. */
export function alignColumns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd());
}

function thousands(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KB`;
  return `${n} B`;
}
