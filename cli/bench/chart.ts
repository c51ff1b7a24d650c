// --chart: one SVG with latency over time (p50, p99, max per second, requests/s behind them) and
// the latency distribution on a "nines" axis (each step to the right is ten times rarer), where
// tail behaviour shows at a glance. Hand-written SVG: no dependency, opens in any browser.
import type { BenchReport } from './report.ts';

const WIDTH = 960;
const PANEL_HEIGHT = 300;
const MARGIN = { left: 70, right: 90, top: 40, bottom: 40 };
const COLORS = { p50: '#2563eb', p99: '#ea580c', max: '#dc2626', rps: '#e5e7eb', raw: '#16a34a', grid: '#e5e7eb', text: '#374151' };

export function renderChart(r: BenchReport): string {
  const height = PANEL_HEIGHT * 2 + 40;
  const title = `${r.target.method} ${r.target.urls.join(' ')}: ${Math.round(r.requests.perSecond)} req/s, p99 ${r.latencyMs.p99} ms (${r.model} model)`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" fill="${COLORS.text}">${escape(title)}</text>`,
    `<g transform="translate(0,20)">${timelinePanel(r)}</g>`,
    `<g transform="translate(0,${PANEL_HEIGHT + 40})">${distributionPanel(r)}</g>`,
    '</svg>',
    '',
  ].join('\n');
}

function timelinePanel(r: BenchReport): string {
  const t = r.timeline;
  const x0 = MARGIN.left;
  const x1 = WIDTH - MARGIN.right;
  const y0 = PANEL_HEIGHT - MARGIN.bottom;
  const y1 = MARGIN.top;
  const yMax = niceCeil(Math.max(0.001, ...t.map((s) => s.p99Ms)) * 1.25);
  const rpsMax = niceCeil(Math.max(1, ...t.map((s) => s.requests)));
  const n = Math.max(1, t.length);
  const x = (i: number) => x0 + ((i + 0.5) / n) * (x1 - x0);
  const y = (ms: number) => y0 - (Math.min(ms, yMax) / yMax) * (y0 - y1);
  const barWidth = Math.max(1, ((x1 - x0) / n) * 0.8);
  const out = [axisTitle('latency over time (ms per second of the run; bars: requests/s)', x0, y1 - 14)];
  out.push(...yGrid(yMax, y, x0, x1, (v) => `${fmt(v)} ms`));
  for (const [i, s] of t.entries()) {
    const h = (s.requests / rpsMax) * (y0 - y1);
    out.push(`<rect x="${(x(i) - barWidth / 2).toFixed(1)}" y="${(y0 - h).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS.rps}"><title>${s.requests} responses, ${s.errors} errors</title></rect>`);
  }
  out.push(`<text x="${x1 + 8}" y="${y1 + 4}" fill="${COLORS.text}">${rpsMax} req/s</text>`);
  out.push(line(t.map((s, i) => [x(i), y(s.maxMs)]), COLORS.max, 1, '3 3'));
  out.push(line(t.map((s, i) => [x(i), y(s.p99Ms)]), COLORS.p99, 2));
  out.push(line(t.map((s, i) => [x(i), y(s.p50Ms)]), COLORS.p50, 2));
  const step = Math.max(1, Math.ceil(n / 10));
  for (let i = 0; i < n; i += step) out.push(`<text x="${x(i).toFixed(1)}" y="${y0 + 16}" text-anchor="middle" fill="${COLORS.text}">${i}s</text>`);
  out.push(legend([['p50', COLORS.p50], ['p99', COLORS.p99], ['max (clipped)', COLORS.max]], x1 - 260, y1 - 14));
  return out.join('\n');
}

function distributionPanel(r: BenchReport): string {
  const x0 = MARGIN.left;
  const x1 = WIDTH - MARGIN.right;
  const y0 = PANEL_HEIGHT - MARGIN.bottom;
  const y1 = MARGIN.top;
  const series: [string, string, { percentile: number; ms: number }[]][] = [[r.rawDistribution ? 'corrected' : 'latency', COLORS.p99, r.distribution]];
  if (r.rawDistribution) series.push(['raw (uncorrected)', COLORS.raw, r.rawDistribution]);
  const yMax = niceCeil(Math.max(0.001, ...series.flatMap(([, , d]) => d.map((p) => p.ms))));
  const maxNines = 5;
  const nines = (p: number) => (p >= 100 ? maxNines : Math.min(maxNines, -Math.log10(1 - p / 100)));
  const x = (p: number) => x0 + (nines(p) / maxNines) * (x1 - x0);
  const y = (ms: number) => y0 - (ms / yMax) * (y0 - y1);
  const out = [axisTitle('latency distribution (ms at each percentile; each step right is 10× rarer)', x0, y1 - 14)];
  out.push(...yGrid(yMax, y, x0, x1, (v) => `${fmt(v)} ms`));
  for (const [label, p] of [['0%', 0], ['90%', 90], ['99%', 99], ['99.9%', 99.9], ['99.99%', 99.99], ['99.999%', 99.999]] as const) {
    out.push(`<line x1="${x(p).toFixed(1)}" x2="${x(p).toFixed(1)}" y1="${y1}" y2="${y0}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${x(p).toFixed(1)}" y="${y0 + 16}" text-anchor="middle" fill="${COLORS.text}">${label}</text>`);
  }
  for (const [, color, d] of series) out.push(line(d.map((p) => [x(p.percentile), y(p.ms)]), color, 2));
  out.push(legend(series.map(([label, color]) => [label, color]), x1 - 260, y1 - 14));
  return out.join('\n');
}

function yGrid(max: number, y: (v: number) => number, x0: number, x1: number, label: (v: number) => string): string[] {
  const out: string[] = [];
  // Five steps: a 1, 2 or 5 × 10^k maximum then gives round labels.
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    out.push(`<line x1="${x0}" x2="${x1}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${x0 - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="${COLORS.text}">${label(v)}</text>`);
  }
  return out;
}

function line(points: [number, number][], color: string, width: number, dash?: string): string {
  if (points.length === 0) return '';
  const d = points.map(([px, py], i) => `${i ? 'L' : 'M'}${px.toFixed(1)},${py.toFixed(1)}`).join(' ');
  return `<path d="${d}" fill="none" stroke="${color}" stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`;
}

function legend(items: [string, string][], x: number, y: number): string {
  return items.map(([label, color], i) => `<rect x="${x + i * 90}" y="${y - 9}" width="10" height="10" fill="${color}"/><text x="${x + i * 90 + 14}" y="${y}" fill="${COLORS.text}">${escape(label)}</text>`).join('');
}

function axisTitle(text: string, x: number, y: number): string {
  return `<text x="${x}" y="${y}" fill="${COLORS.text}" font-weight="600">${escape(text)}</text>`;
}

/** The next 1, 2 or 5 × 10^k at or above v: round gridline values. */
export function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  return v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(3).replace(/\.?0+$/, '');
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
