// Memory mappings: the resource that actually ends a process full of isolates. V8 aborts when an
// isolate cannot map memory, long before RAM runs out, once the process nears vm.max_map_count.
import { readFileSync } from 'node:fs';

/** vm.max_map_count, or undefined off Linux. */
export function maxMapCount(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** How many memory mappings this process has now (a newline count of /proc/self/maps). */
export function mappingCount(): number {
  try {
    const maps = readFileSync('/proc/self/maps');
    let n = 0;
    for (let i = 0; i < maps.length; i++) if (maps[i] === 10) n++;
    return n;
  } catch {
    return 0;
  }
}
