// Where a machine's CPU went during a bench phase, by thread: CPU time each group of threads ran
// and time it spent runnable but waiting for a core (the scheduler's run queue), from
// /proc/<pid>/task/<tid>/{stat,schedstat}. Linux only; elsewhere a census is empty.
// The run-queue figure is what tells a stalled event loop from a busy one: a loop that is late
// while it waited for a core lost its time to other threads, not to its own work.
import { readdir, readFile } from 'node:fs/promises';

/**
 * Names a thread's group from its ids, its name and its process's name (a process's name is its
 * main thread's: `tid === pid`, the event loop for Node).
 */
export type ThreadClassifier = (pid: number, tid: number, comm: string, processComm: string) => string | undefined;

export interface ThreadTimes {
  group: string;
  cpuS: number;
  runQueueS: number;
  threads: number;
}

type Snapshot = Map<string, { group: string; cpuNs: number; runQueueNs: number }>;

/** One reading of every thread of `pids`, grouped by `classify` (undefined leaves a thread out). */
export async function threadSnapshot(pids: number[], classify: ThreadClassifier): Promise<Snapshot> {
  const out: Snapshot = new Map();
  for (const pid of pids) {
    const tids = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
    const processComm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
    for (const t of tids) {
      const tid = Number(t);
      try {
        const stat = await readFile(`/proc/${pid}/task/${t}/stat`, 'utf8');
        const group = classify(pid, tid, stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), processComm);
        if (group === undefined) continue;
        // schedstat: ns on a CPU, ns waiting on a run queue, time slices.
        const [cpuNs, runQueueNs] = (await readFile(`/proc/${pid}/task/${t}/schedstat`, 'utf8')).split(' ').map(Number);
        out.set(`${pid}/${tid}`, { group, cpuNs: cpuNs!, runQueueNs: runQueueNs! });
      } catch {
        // a thread that ended since it was listed
      }
    }
  }
  return out;
}

/**
 * What each group used between two snapshots, biggest CPU first. Threads born in between count
 * from zero; threads that ended in between are missed.
 */
export function threadTimes(before: Snapshot, after: Snapshot): ThreadTimes[] {
  const groups = new Map<string, ThreadTimes>();
  for (const [key, now] of after) {
    const then = before.get(key);
    const g = groups.get(now.group) ?? { group: now.group, cpuS: 0, runQueueS: 0, threads: 0 };
    g.cpuS += (now.cpuNs - (then?.cpuNs ?? 0)) / 1e9;
    g.runQueueS += (now.runQueueNs - (then?.runQueueNs ?? 0)) / 1e9;
    g.threads++;
    groups.set(now.group, g);
  }
  return [...groups.values()]
    .map((g) => ({ ...g, cpuS: Number(g.cpuS.toFixed(2)), runQueueS: Number(g.runQueueS.toFixed(2)) }))
    .sort((a, b) => b.cpuS - a.cpuS);
}
