// A reader for the Prometheus text exposition format (version 0.0.4), enough for what prom-client
// writes: comments, samples with escaped label values, NaN and ±Inf, optional timestamps.
// https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class PrometheusParseError extends Error {}

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    try {
      samples.push(parseSample(line));
    } catch (err) {
      throw new PrometheusParseError(`line ${i + 1}: ${(err as Error).message}: ${line.slice(0, 120)}`);
    }
  });
  return samples;
}

function parseSample(line: string): Sample {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (!name) throw new Error('no metric name');
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    for (;;) {
      while (line[at] === ' ') at++;
      if (line[at] === '}') {
        at++;
        break;
      }
      const label = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(at))?.[0];
      if (!label) throw new Error('bad label name');
      at += label.length;
      if (line[at] !== '=' || line[at + 1] !== '"') throw new Error(`label ${label} has no quoted value`);
      at += 2;
      let value = '';
      for (;;) {
        const c = line[at++];
        if (c === undefined) throw new Error('unterminated label value');
        if (c === '"') break;
        if (c === '\\') {
          const e = line[at++];
          value += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : `\\${e ?? ''}`;
        } else value += c;
      }
      labels[label] = value;
      while (line[at] === ' ') at++;
      if (line[at] === ',') at++;
      else if (line[at] !== '}') throw new Error('expected , or } after a label');
    }
  }
  const [valueText] = line.slice(at).trim().split(/\s+/);
  const value = parseValue(valueText ?? '');
  return { name, labels, value };
}

function parseValue(text: string): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  const n = Number(text);
  if (text === '' || Number.isNaN(n)) throw new Error(`bad value "${text}"`);
  return n;
}
