// Runs either model on several threads, when one core cannot generate the load: in the open model
// each thread takes every n-th arrival of the same schedule, in the closed model its share of
// the connections. Their HDR histograms are added bucket by bucket, so percentiles are exact.
import { Worker } from 'node:worker_threads';
import { nowMs } from './clock.ts';
import { runClosed, type ClosedLoad, type Measured } from './closed.ts';
import { runOpen, type OpenLoad } from './open.ts';
import { Recorder, type RecorderSnapshot } from './recorder.ts';
import { ownFile } from '../../engine/own-file.ts';

/** Time for the threads to start before the load does, so that none begins late. */
const THREAD_START_MS = 300;

export type Job =
  | { model: 'open'; load: Omit<OpenLoad, 'thread' | 'threads' | 'startMs'> }
  | { model: 'closed'; load: Omit<ClosedLoad, 'progress'> };

/** What a load thread is given, and what it sends back. */
export type ThreadTask = Job & { startMs: number; thread: number; threads: number };
export interface ThreadResult {
  snapshot: RecorderSnapshot;
  elapsedS: number;
}

export async function runOnThreads(job: Job, threads: number, progress: boolean): Promise<Measured> {
  if (threads === 1) return runTask({ ...job, startMs: nowMs(), thread: 0, threads: 1 }, progress);
  const startMs = nowMs() + THREAD_START_MS;
  const results = await Promise.all(
    Array.from({ length: threads }, (_, thread) => new Promise<ThreadResult>((resolve, reject) => {
      const task: ThreadTask = { ...job, startMs, thread, threads };
      const worker = new Worker(ownFile('./thread-worker', import.meta.url), { workerData: task });
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => code !== 0 && reject(new Error(`load thread ${thread} exited with ${code}`)));
    })),
  );
  const recorder = new Recorder(job.load.urls, startMs);
  for (const r of results) recorder.merge(r.snapshot);
  return { recorder, elapsedS: Math.max(...results.map((r) => r.elapsedS)) };
}

/** One thread's part of the job (the main thread's, when there is only one). */
export async function runTask(task: ThreadTask, progress: boolean): Promise<Measured> {
  if (task.model === 'open') {
    const recorder = await runOpen({ ...task.load, startMs: task.startMs, thread: task.thread, threads: task.threads });
    return { recorder, elapsedS: (nowMs() - task.startMs) / 1000 };
  }
  await new Promise((r) => setTimeout(r, Math.max(0, task.startMs - nowMs())));
  return runClosed({ ...task.load, connections: share(task.load.connections, task.thread, task.threads), progress }, task.startMs);
}

/** Thread i's part of n: the remainder goes to the first threads. */
function share(total: number, i: number, n: number): number {
  return Math.floor(total / n) + (i < total % n ? 1 : 0);
}
