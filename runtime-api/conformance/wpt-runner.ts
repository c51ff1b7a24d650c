// Web Platform Tests data run where tenants run: inside an isolate, through the runtime's own
// globals. The data files are read from ../shared/wpt when present and never copied into the
// repo. Used by the test suite (with floors) and by `npm run conformance` (a report).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../../engine/index.ts';

export const WPT_DIR = fileURLToPath(new URL('../../../shared/wpt/', import.meta.url));

export interface Area {
  name: string;
  file: string;
  kind: 'parsing' | 'setters' | 'urlencoded' | 'toascii' | 'urlpattern';
}

export const AREAS: Area[] = [
  { name: 'url-constructor', file: 'url/resources/urltestdata.json', kind: 'parsing' },
  { name: 'url-setters', file: 'url/resources/setters_tests.json', kind: 'setters' },
  { name: 'url-toascii', file: 'url/resources/toascii.json', kind: 'toascii' },
  { name: 'urlencoded-parser', file: 'url/resources/urlencoded-parser-data.json', kind: 'urlencoded' },
  { name: 'urlpattern', file: 'urlpattern/resources/urlpatterntestdata.json', kind: 'urlpattern' },
];

export interface AreaResult {
  name: string;
  passed: number;
  total: number;
  /** The first failures, for a human to read. */
  failures: unknown[];
}

export function dataPresent(): boolean {
  return existsSync(WPT_DIR);
}

// The tenant module that checks cases inside the isolate; only counts and failures come back.
// Semantics follow WPT's own harnesses (url-constructor.any.js, url-setters.any.js,
// toascii.any.js, urlencoded-parser.any.js, urlpattern/resources/urlpatterntests.js).
export const RUNNER_MODULE = `
const URL_FIELDS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];
const PATTERN_COMPONENTS = ['protocol', 'username', 'password', 'hostname', 'port', 'pathname', 'search', 'hash'];
// WPT's JSON writes an unmatched optional group (undefined) as null.
const asJson = (v) => JSON.stringify(v, (_k, x) => (x === undefined ? null : x));
function same(a, b) { return asJson(a) === asJson(b); }

const checks = {
  parsing(c, fail) {
    const args = c.base === null ? [c.input] : [c.input, c.base];
    if (URL.canParse(...args) === !!c.failure) return fail({ input: c.input, base: c.base, canParse: !c.failure });
    let url;
    try { url = new URL(...args); } catch (e) {
      return c.failure && e instanceof TypeError ? true : fail({ input: c.input, base: c.base, threw: String(e) });
    }
    if (c.failure) return fail({ input: c.input, base: c.base, parsedAs: url.href });
    for (const k of URL_FIELDS) if (k in c && url[k] !== c[k]) return fail({ input: c.input, field: k, got: url[k], want: c[k] });
    if ('searchParams' in c && url.searchParams.toString() !== c.searchParams) return fail({ input: c.input, field: 'searchParams' });
    return true;
  },
  setters(c, fail) {
    const url = new URL(c.href);
    url[c.attr] = c.new_value;
    for (const [k, v] of Object.entries(c.expected)) if (url[k] !== v) return fail({ attr: c.attr, href: c.href, value: c.new_value, field: k, got: url[k], want: v });
    return true;
  },
  toascii(c, fail) {
    // Through the URL parser, as toascii.any.js does for its URL part.
    let host = null;
    try { host = new URL('https://' + c.input + '/x').host; } catch {}
    return host === c.output ? true : fail({ input: c.input, got: host, want: c.output });
  },
  urlencoded(c, fail) {
    const got = [...new URLSearchParams(c.input)];
    return same(got, c.output) ? true : fail({ input: c.input, got, want: c.output });
  },
  urlpattern(c, fail) {
    let pattern;
    try { pattern = new URLPattern(...c.pattern); } catch (e) {
      return c.expected_obj === 'error' ? true : fail({ pattern: c.pattern, threw: String(e) });
    }
    if (c.expected_obj === 'error') return fail({ pattern: c.pattern, expected: 'error' });
    for (const [k, v] of Object.entries(c.expected_obj ?? {})) if (pattern[k] !== v) return fail({ pattern: c.pattern, component: k, got: pattern[k], want: v });
    if (c.expected_match === 'error') {
      try { pattern.exec(...c.inputs); } catch { return true; }
      return fail({ pattern: c.pattern, inputs: c.inputs, expected: 'error' });
    }
    const result = pattern.exec(...(c.inputs ?? []));
    if (c.expected_match === null || c.expected_match === undefined) return result === null ? true : fail({ pattern: c.pattern, inputs: c.inputs, matched: true });
    if (result === null) return fail({ pattern: c.pattern, inputs: c.inputs, matched: false });
    if (!same(result.inputs, c.expected_match.inputs ?? c.inputs)) return fail({ pattern: c.pattern, field: 'inputs', got: result.inputs });
    for (const component of PATTERN_COMPONENTS) {
      const empty = (c.exactly_empty_components ?? []).includes(component);
      const want = c.expected_match[component] ?? (empty ? { input: '', groups: {} } : { input: '', groups: { 0: '' } });
      if (!same(result[component], want)) return fail({ pattern: c.pattern, inputs: c.inputs, component, got: result[component], want });
    }
    return true;
  },
};

function cases(kind, data) {
  if (kind !== 'setters') return data.filter((c) => typeof c !== 'string');
  return Object.entries(data).filter(([attr]) => attr !== 'comment').flatMap(([attr, list]) => list.map((c) => ({ ...c, attr })));
}

export default {
  async fetch(request) {
    const { kind, data } = await request.json();
    const failures = [];
    let passed = 0;
    const all = cases(kind, data);
    for (const c of all) {
      let ok;
      try { ok = checks[kind](c, (detail) => { failures.push(detail); return false; }); } catch (e) { failures.push({ case: c, threw: String(e) }); ok = false; }
      if (ok) passed++;
    }
    return Response.json({ passed, total: all.length, failures: failures.slice(0, 20) });
  },
};`;

/** Deploys the runner into `engine` (once) and runs one area's data through it. */
export async function runArea(engine: Engine, area: Area): Promise<AreaResult> {
  if (!engine.has('wpt')) await engine.deploy('wpt', { code: RUNNER_MODULE, limits: { cpuMs: 30_000, wallMs: 60_000 } });
  const data = JSON.parse(readFileSync(WPT_DIR + area.file, 'utf8'));
  const res = await engine.fetch('wpt', new Request('http://wpt.test/', { method: 'POST', body: JSON.stringify({ kind: area.kind, data }) }));
  if (res.status !== 200) throw new Error(`${area.name}: the runner answered ${res.status}: ${await res.text()}`);
  return { name: area.name, ...((await res.json()) as Omit<AreaResult, 'name'>) };
}
