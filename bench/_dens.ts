import ivm from 'isolated-vm';
import { runtimeScript } from '../engine/bundle/index.ts';
import { createSnapshot } from '../engine/warm/runtime-snapshot.ts';
const mode = process.argv[2]!;
const N = 300;
const code = await runtimeScript();
const WARM = `new Response('x').headers.get('a'); __islet_runtime.warmup();`;
const snap = mode === 'bare' || mode === 'noctx-bare' || mode === 'plain' ? undefined : createSnapshot(code, mode === 'warm' ? WARM : undefined);
global.gc?.();
const before = process.memoryUsage().rss;
const keep: unknown[] = [];
let cache: any;
let stats: any;
for (let i = 0; i < N; i++) {
  const iso = new ivm.Isolate({ memoryLimit: Number(process.env.MEM ?? 128), snapshot: snap });
  const ctx = mode.startsWith('noctx') ? undefined : await iso.createContext();
  if (mode === 'plain') {
    const sc: any = await iso.compileScript(code, { cachedData: cache, produceCachedData: !cache });
    if (!cache) cache = sc.cachedData;
    await sc.run(ctx);
  }
  if (mode === 'warmuse') await ctx.eval(`new Response('x').headers.get('a')`);
  keep.push(iso, ctx);
  if (i === N - 1) stats = await iso.getHeapStatistics();
}
await new Promise((r) => setTimeout(r, 200));
const rss = process.memoryUsage().rss;
console.log(mode, 'MB/isolate', ((rss - before) / N / 1048576).toFixed(2), 'heap total', (stats.total_heap_size / 1048576).toFixed(2), 'used', (stats.used_heap_size / 1048576).toFixed(2), 'physical', (stats.total_physical_size/1048576).toFixed(2), 'external', stats.externally_allocated_size);
process.exit(0);
