// WPT URL conformance, run where tenants run: inside an isolate, through the runtime's globals.
// The data files are read from ../shared/wpt at test time and never copied into the repo.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/index.ts';

const WPT = fileURLToPath(new URL('../../../shared/wpt/url/resources/', import.meta.url));
const present = existsSync(WPT);
if (!present) console.warn(`WPT data not found at ${WPT}: URL conformance tests skipped`);

// Runs in the isolate: each case is checked there and only failures come back.
const RUNNER = `
const FIELDS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];
function parsing(cases) {
  const failures = [];
  for (const c of cases) {
    if (typeof c === 'string') continue;
    const args = c.base === null ? [c.input] : [c.input, c.base];
    if (URL.canParse(...args) === !!c.failure) failures.push({ input: c.input, base: c.base, canParse: !c.failure });
    let url;
    try { url = new URL(...args); } catch (e) {
      if (!c.failure || !(e instanceof TypeError)) failures.push({ input: c.input, base: c.base, threw: String(e) });
      continue;
    }
    if (c.failure) { failures.push({ input: c.input, base: c.base, parsedAs: url.href }); continue; }
    for (const k of FIELDS) if (k in c && url[k] !== c[k]) failures.push({ input: c.input, field: k, got: url[k], want: c[k] });
    if ('searchParams' in c && url.searchParams.toString() !== c.searchParams) failures.push({ input: c.input, field: 'searchParams' });
  }
  return failures;
}
function setters(groups) {
  const failures = [];
  for (const [attr, cases] of Object.entries(groups)) {
    if (attr === 'comment') continue;
    for (const c of cases) {
      const url = new URL(c.href);
      url[attr] = c.new_value;
      for (const [k, v] of Object.entries(c.expected)) if (url[k] !== v) failures.push({ attr, href: c.href, value: c.new_value, field: k, got: url[k], want: v });
    }
  }
  return failures;
}
function urlencoded(cases) {
  const failures = [];
  for (const c of cases) {
    const got = [...new URLSearchParams(c.input)];
    if (JSON.stringify(got) !== JSON.stringify(c.output)) failures.push({ input: c.input, got, want: c.output });
  }
  return failures;
}
export default {
  async fetch(request) {
    const { kind, data } = await request.json();
    return Response.json({ parsing, setters, urlencoded }[kind](data));
  },
};`;

let engine: Engine;

async function runInIsolate(kind: string, file: string): Promise<unknown[]> {
  const data = JSON.parse(readFileSync(WPT + file, 'utf8'));
  const res = await engine.fetch('wpt', new Request('http://wpt.test/', { method: 'POST', body: JSON.stringify({ kind, data }) }));
  expect(res.status).toBe(200);
  return (await res.json()) as unknown[];
}

describe.skipIf(!present).each([{ snapshot: true }, { snapshot: false }])('WPT url inside an isolate (snapshot: $snapshot)', ({ snapshot }) => {
  beforeAll(async () => {
    engine = new Engine({ snapshot });
    await engine.deploy('wpt', { code: RUNNER, limits: { cpuMs: 10_000 } });
  });
  afterAll(() => engine.close());

  it('urltestdata.json: new URL, URL.canParse and every component', async () => {
    expect(await runInIsolate('parsing', 'urltestdata.json')).toEqual([]);
  });

  it('setters_tests.json: every URL setter', async () => {
    expect(await runInIsolate('setters', 'setters_tests.json')).toEqual([]);
  });

  it('urlencoded-parser-data.json: URLSearchParams parsing', async () => {
    expect(await runInIsolate('urlencoded', 'urlencoded-parser-data.json')).toEqual([]);
  });
});
