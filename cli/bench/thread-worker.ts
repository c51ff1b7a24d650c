// A load-generator thread: runs its part of the job and sends back its recorder, whose histograms
// the main thread adds to its own.
import { parentPort, workerData } from 'node:worker_threads';
import { runTask, type ThreadResult, type ThreadTask } from './threads.ts';

const { recorder, elapsedS } = await runTask(workerData as ThreadTask, false);
parentPort!.postMessage({ snapshot: recorder.snapshot(), elapsedS } satisfies ThreadResult);
