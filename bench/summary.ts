// The suite's markdown summary: one section per benchmark, its rows as a table and its other
// scalar settings on one line, so bench/results/latest.md can be pasted into an issue or README.
import type { SuiteResults } from './suite.ts';

export function markdownSummary(results: SuiteResults): string {
  const m = results.machine;
  const lines = [
    `# islet benchmarks${results.tiny ? ' (tiny run: proves they run; do not quote)' : ''}`,
    '',
    `${results.date} · ${m.cpus} × ${m.cpuModel} · ${m.memoryGb} GB · Node ${m.node} · ${m.platform}`,
    '',
  ];
  for (const [name, r] of Object.entries(results.benchmarks)) {
    lines.push(`## ${name}`, '', `_${r.about}_`, '');
    if (r.status === 'skipped') lines.push(`skipped: ${r.reason}`, '');
    else if (r.status === 'failed') lines.push(`**failed** after ${r.seconds} s: ${r.error}`, '');
    else {
      const { rows, bench: _bench, date: _date, ...settings } = r.report;
      const scalars = Object.entries(settings).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k} ${v}`);
      lines.push(`${r.seconds} s${scalars.length ? ` · ${scalars.join(' · ')}` : ''}`, '');
      if (Array.isArray(rows) && rows.length) lines.push(...table(rows as Record<string, unknown>[]), '');
    }
  }
  return lines.join('\n');
}

function table(rows: Record<string, unknown>[]): string[] {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)).replace(/\|/g, '\\|');
  const numeric = columns.map((c) => rows.every((r) => typeof r[c] === 'number' || r[c] === undefined));
  return [
    `| ${columns.join(' | ')} |`,
    `| ${numeric.map((n) => (n ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${columns.map((c) => cell(r[c])).join(' | ')} |`),
  ];
}
