// What "auto" chooses on this machine for each fixture model, with its timings (bench/gpu/check.sh).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AccelPool } from '../../engine/accel/index.ts';
import { writeFixtureModels } from '../../fixtures/accel/make-models.ts';
const dir = await mkdtemp(path.join(tmpdir(), 'islet-choice-'));
const files = await writeFixtureModels(dir, ['mlp-classifier', 'mlp-bench', 'mlp-large']);
const pool = new AccelPool({ workers: 1, models: Object.fromEntries(Object.entries(files).map(([n, p]) => [n, { path: p }])) });
await pool.ready;
const st = pool.status() as any;
console.log(JSON.stringify({ onnx: st.backends.onnx, models: Object.fromEntries(Object.entries(st.models).map(([n, m]: [string, any]) => [n, { device: m.device, choice: m.choice, fallback: m.fallback }])) }, null, 1));
await pool.close();
await rm(dir, { recursive: true, force: true });
