// Open-model arrival times: when request i is meant to be sent, whatever happened to the ones
// before it. The rate moves linearly through each stage (k6's ramping-arrival-rate), so the
// number of arrivals by time t is the integral of the rate and request k is sent when it reaches k.
import type { Stage } from './flags.ts';

/** Offsets in ms from the start of the run, in order. A constant rate is one flat stage. */
export function* arrivalTimes(startRps: number, stages: Stage[]): Generator<number> {
  let stageStartS = 0;
  let arrivalsBefore = 0; // arrivals owed by the end of the previous stage (fractional)
  let k = 0; // next arrival's index
  let fromRps = startRps;
  for (const { durationS, targetRps } of stages) {
    const a = fromRps;
    const slope = (targetRps - a) / durationS;
    const inStage = a * durationS + (slope * durationS * durationS) / 2;
    while (k < arrivalsBefore + inStage) {
      // Solve a·t + slope·t²/2 = k − arrivalsBefore for t in [0, durationS].
      const need = k - arrivalsBefore;
      const t = Math.abs(slope) < 1e-12 ? need / a : (-a + Math.sqrt(Math.max(0, a * a + 2 * slope * need))) / slope;
      yield (stageStartS + t) * 1000;
      k++;
    }
    arrivalsBefore += inStage;
    stageStartS += durationS;
    fromRps = targetRps;
  }
}

/** The stages a run follows: --stages as given, or --rate for --duration. */
export function openStages(rateRps: number | undefined, stages: Stage[] | undefined, durationS: number): { startRps: number; stages: Stage[] } {
  if (stages) return { startRps: rateRps ?? 0, stages };
  return { startRps: rateRps!, stages: [{ durationS, targetRps: rateRps! }] };
}
