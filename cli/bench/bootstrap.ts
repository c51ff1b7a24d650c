// Bootstrap confidence intervals for the difference of a statistic between two runs. Latencies
// within a run are correlated in time (a GC pause, a noisy neighbour), so whole seconds are
// resampled (a block bootstrap); resampling single requests would claim false precision.
import { seededRandom } from './random.ts';

export interface BootstrapOptions {
  iterations: number;
  /** Two-sided confidence level. */
  confidence: number;
  seed: number;
  /** Fewer blocks than this and single values are resampled instead (said in the result). */
  minBlocks: number;
}

export const BOOTSTRAP_DEFAULTS: Readonly<BootstrapOptions> = Object.freeze({ iterations: 2000, confidence: 0.95, seed: 1, minBlocks: 5 });

export interface Interval {
  /** statistic(b) − statistic(a) on the data as observed. */
  difference: number;
  low: number;
  high: number;
  /** 'seconds' (block bootstrap) or 'requests' when a run had too few seconds. */
  resampled: 'seconds' | 'requests';
}

export type Statistic = (values: Float64Array) => number;

/** Interval for statistic(b) − statistic(a), each run given as blocks of values. */
export function bootstrapDifference(a: number[][], b: number[][], statistic: Statistic, options: Partial<BootstrapOptions> = {}): Interval {
  const o = { ...BOOTSTRAP_DEFAULTS, ...options };
  const nonEmpty = (blocks: number[][]) => blocks.filter((x) => x.length > 0);
  let blocksA = nonEmpty(a);
  let blocksB = nonEmpty(b);
  if (blocksA.length === 0 || blocksB.length === 0) throw new Error('cannot compare a run without samples');
  let resampled: Interval['resampled'] = 'seconds';
  if (blocksA.length < o.minBlocks || blocksB.length < o.minBlocks) {
    blocksA = blocksA.flat().map((v) => [v]);
    blocksB = blocksB.flat().map((v) => [v]);
    resampled = 'requests';
  }
  const random = seededRandom(o.seed);
  const diffs = new Float64Array(o.iterations);
  for (let i = 0; i < o.iterations; i++) diffs[i] = statistic(resample(blocksB, random)) - statistic(resample(blocksA, random));
  diffs.sort();
  const tail = (1 - o.confidence) / 2;
  return {
    difference: statistic(Float64Array.from(blocksB.flat())) - statistic(Float64Array.from(blocksA.flat())),
    low: quantileSorted(diffs, tail),
    high: quantileSorted(diffs, 1 - tail),
    resampled,
  };
}

/** A statistic: the q-quantile (0..1) of the values, by selection (the values are reordered). */
export function quantile(q: number): Statistic {
  return (values) => select(values, Math.min(values.length - 1, Math.max(0, Math.ceil(q * values.length) - 1)));
}

export const mean: Statistic = (values) => values.reduce((s, v) => s + v, 0) / values.length;

function resample(blocks: number[][], random: () => number): Float64Array {
  const picked: number[][] = [];
  let size = 0;
  for (let i = 0; i < blocks.length; i++) {
    const block = blocks[Math.floor(random() * blocks.length)]!;
    picked.push(block);
    size += block.length;
  }
  const out = new Float64Array(size);
  let at = 0;
  for (const block of picked) {
    out.set(block, at);
    at += block.length;
  }
  return out;
}

function quantileSorted(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
}

/** The k-th smallest value (Hoare's quickselect), in place. */
function select(values: Float64Array, k: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i] = values[j]!;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return values[k]!;
}
