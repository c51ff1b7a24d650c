// CPU and memory of the engine process and of sandbox processes (tiers that run a sandbox in a
// process of its own expose its pid), sampled with pidusage off the request path. Per-isolate
// heap and CPU come from the sandboxes themselves (Sandbox.usage) when metrics or status ask.
import pidusage from 'pidusage';

export interface ProcessUsage {
  /** Percent of one core over the last sampling interval. */
  cpuPercent: number;
  rssBytes: number;
}

export class ResourceMonitor {
  /** The engine process, as of the last sample (undefined before the first). */
  engine: ProcessUsage | undefined;
  /** Sandbox processes by pid, as of the last sample. */
  sandboxes = new Map<number, ProcessUsage>();
  #sampling = false;

  /** Samples the engine and `pids`; a sample still running is not started again. */
  async sample(pids: Iterable<number>): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const wanted = [process.pid, ...pids];
      // One by one: a sandbox process that just exited must not lose the others' readings.
      const results = await Promise.allSettled(wanted.map((pid) => pidusage(pid)));
      const sandboxes = new Map<number, ProcessUsage>();
      results.forEach((result, i) => {
        if (result.status !== 'fulfilled') return;
        const usage = { cpuPercent: Math.round(result.value.cpu * 10) / 10, rssBytes: result.value.memory };
        if (i === 0) this.engine = usage;
        else sandboxes.set(wanted[i]!, usage);
      });
      this.sandboxes = sandboxes;
    } finally {
      this.#sampling = false;
    }
  }

  close(): void {
    pidusage.clear();
  }
}
