// /_islet/metrics across engine processes: each engine's Prometheus text, every sample labelled
// with the engine it came from, families grouped under one HELP/TYPE as the format requires.
// Labelling instead of summing keeps it generic: a gauge like RSS must not be added up blindly,
// and `sum by (function) (...)` in PromQL gives the totals.

interface Family {
  help?: string;
  type?: string;
  samples: string[];
}

/** Merges the texts, `texts[i]` from engine `labels[i]` (the value of the `engine` label). */
export function mergeMetrics(texts: string[], labels: string[]): string {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { samples: [] }));
    return f;
  };
  texts.forEach((text, i) => {
    const engine = `engine="${labels[i]}"`;
    let current = '';
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (meta) {
        current = meta[2]!;
        const f = family(current);
        if (meta[1] === 'HELP') f.help ??= line;
        else f.type ??= line;
        continue;
      }
      if (line.startsWith('#')) continue;
      // A sample belongs to the family of the TYPE above it when its name extends that family's
      // (histogram _bucket/_sum/_count); otherwise to a family of its own name.
      const name = /^[^{\s]+/.exec(line)?.[0] ?? '';
      const owner = current && name.startsWith(current) ? current : name;
      family(owner).samples.push(withLabel(line, name, engine));
    }
  });
  let out = '';
  for (const f of families.values()) {
    if (f.help) out += `${f.help}\n`;
    if (f.type) out += `${f.type}\n`;
    for (const s of f.samples) out += `${s}\n`;
  }
  return out;
}

function withLabel(line: string, name: string, label: string): string {
  const rest = line.slice(name.length);
  if (rest.startsWith('{}')) return `${name}{${label}}${rest.slice(2)}`;
  if (rest.startsWith('{')) return `${name}{${label},${rest.slice(1)}`;
  return `${name}{${label}}${rest}`;
}
