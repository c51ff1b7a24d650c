// Runs the open model on several threads, when one core cannot generate the load: each thread
// takes every n-th arrival of the same schedule, and their HDR histograms are added exactly.
import { Worker } from 'node:worker_threads';
import { nowMs } from './clock.ts';
import { runOpen, type OpenLoad } from './open.ts';
import { Recorder, type RecorderSnapshot } from './recorder.ts';

/** Time for the threads to start before the first arrival, so none begins late. */
const THREAD_START_MS = 300;

export async function runOpenThreads(load: Omit<OpenLoad, 'thread' | 'threads' | 'startMs'>, threads: number): Promise<Recorder> {
  const startMs = nowMs() + (threads > 1 ? THREAD_START_MS : 0);
  if (threads === 1) return runOpen({ ...load, startMs, thread: 0, threads: 1 });
  const snapshots = await Promise.all(
    Array.from({ length: threads }, (_, thread) => new Promise<RecorderSnapshot>((resolve, reject) => {
      const worker = new Worker(new URL('./open-worker.ts', import.meta.url), { workerData: { ...load, startMs, thread, threads } });
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => code !== 0 && reject(new Error(`load thread ${thread} exited with ${code}`)));
    })),
  );
  const recorder = new Recorder(load.urls, startMs);
  for (const s of snapshots) recorder.merge(s);
  return recorder;
}
