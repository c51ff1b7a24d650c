// One open-model load-generator thread: runs its share of the arrivals and sends back its
// recorder, whose histograms the main thread adds to its own.
import { parentPort, workerData } from 'node:worker_threads';
import { runOpen, type OpenLoad } from './open.ts';

const recorder = await runOpen(workerData as OpenLoad);
parentPort!.postMessage(recorder.snapshot());
