/**
 * Cases measured side by side: each case's time is cut into slices, run in
 * turns (case A slice 1, case B slice 1, ..., case A slice 2, ...), and its
 * rate is the median of its slices. On a shared machine, load that comes and
 * goes then falls on every case alike, and one disturbed slice does not move
 * the figure: ratios between cases stay meaningful.
 */
import type { Skipped } from './c-references.js';
import type { Rate, Timing } from './measure.js';

export const SLICES = 5;

export interface SlicedRate extends Rate {
  /** The rate of each slice; hz is their median, iterations, seconds and pageFaults their sums. */
  readonly sliceHz: readonly number[];
}

/** Measures one slice: a warm-up and a measured run as long as timing says. */
export type SliceMeasure = (timing: Timing) => Promise<Rate | Skipped>;

export interface SlicedCase<K extends string> {
  readonly key: K;
  readonly label: string;
  readonly measure: SliceMeasure;
}

export async function measureInTurns<K extends string>(
  cases: readonly SlicedCase<K>[],
  timing: Timing,
  beforeSlice: (label: string, slice: number) => Promise<void>,
): Promise<Map<K, SlicedRate | Skipped>> {
  const sliceTiming: Timing = { seconds: timing.seconds / SLICES, warmupSeconds: timing.warmupSeconds / SLICES };
  const slices = new Map<K, Rate[] | Skipped>(cases.map((sliced) => [sliced.key, []]));
  for (let slice = 1; slice <= SLICES; slice++) {
    for (const sliced of cases) {
      const measured = slices.get(sliced.key);
      if (measured === undefined || 'skipped' in measured) continue;
      await beforeSlice(sliced.label, slice);
      const rate = await sliced.measure(sliceTiming);
      if ('skipped' in rate) slices.set(sliced.key, rate);
      else measured.push(rate);
    }
  }
  return new Map([...slices].map(([key, measured]) => [key, 'skipped' in measured ? measured : combine(measured)]));
}

function combine(slices: readonly Rate[]): SlicedRate {
  const sliceHz = slices.map((slice) => slice.hz);
  const sorted = [...sliceHz].sort((a, b) => a - b);
  const faults = slices.map((slice) => slice.pageFaults);
  return {
    iterations: slices.reduce((sum, slice) => sum + slice.iterations, 0),
    seconds: slices.reduce((sum, slice) => sum + slice.seconds, 0),
    hz: sorted[Math.floor(sorted.length / 2)]!,
    sliceHz,
    ...(faults.every((count) => count !== undefined) && { pageFaults: faults.reduce((sum, count) => sum + count, 0) }),
  };
}
