// A thread for gpu-turns.test.ts: takes `turns` turns on the shared word, and in each marks
// itself inside the step (a shared counter) for a while, noting the most it ever saw inside.
import { parentPort, workerData } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { GpuTurns } from './gpu-turns.ts';

const { word, inside, turns } = workerData as { word: SharedArrayBuffer; inside: SharedArrayBuffer; turns: number };
const counter = new Int32Array(inside);
const gpu = new GpuTurns(word);
let most = 0;
await Promise.all(Array.from({ length: turns }, () => gpu.take(async () => {
  most = Math.max(most, Atomics.add(counter, 0, 1) + 1);
  await sleep(2);
  Atomics.sub(counter, 0, 1);
})));
parentPort!.postMessage(most);
