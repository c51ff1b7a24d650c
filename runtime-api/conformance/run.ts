// `npm run conformance`: one line per WPT area run inside a real islet isolate, then a total.
import { Engine } from '../../engine/index.ts';
import { AREAS, dataPresent, runArea, WPT_DIR } from './wpt-runner.ts';

if (!dataPresent()) {
  console.log(`WPT data not found at ${WPT_DIR}: nothing to run`);
  process.exit(0);
}
const engine = new Engine();
let passed = 0;
let total = 0;
for (const area of AREAS) {
  const r = await runArea(engine, area);
  passed += r.passed;
  total += r.total;
  console.log(`${r.name}: ${r.passed}/${r.total} passed`);
  if (process.argv.includes('--failures')) for (const f of r.failures) console.log(`  ${JSON.stringify(f)}`);
}
console.log(`total: ${passed}/${total} passed`);
await engine.close();
