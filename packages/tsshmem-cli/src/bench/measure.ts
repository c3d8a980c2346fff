/** The timing loops and statistics shared by the sections (bench/c/*.c measure the same way). */

export interface Timing {
  /** Seconds run before measuring, to settle the JIT, caches and page faults. */
  readonly warmupSeconds: number;
  /** Seconds measured per case. */
  readonly seconds: number;
}

export interface Rate {
  readonly iterations: number;
  readonly seconds: number;
  readonly hz: number;
  /** Minor page faults this process took while measuring; absent for the C references. */
  readonly pageFaults?: number;
}

export interface Latency {
  readonly samples: number;
  readonly medianUs: number;
  readonly p99Us: number;
}

/** Batches grow while one takes less than this, so reading the clock costs nothing measurable. */
const BATCH_TARGET_MS = 2;

/** Warms up, calls beforeMeasuring, then counts iterations for timing.seconds. */
export function measureRate(iteration: () => void, timing: Timing, beforeMeasuring?: () => void): Rate {
  runFor(iteration, timing.warmupSeconds);
  beforeMeasuring?.();
  const faultsBefore = process.resourceUsage().minorPageFault;
  const rate = runFor(iteration, timing.seconds);
  return { ...rate, pageFaults: process.resourceUsage().minorPageFault - faultsBefore };
}

function runFor(iteration: () => void, seconds: number): Rate {
  const start = performance.now();
  const end = start + seconds * 1000;
  let iterations = 0;
  let batch = 1;
  let now = start;
  do {
    const batchStart = now;
    for (let index = 0; index < batch; index++) iteration();
    iterations += batch;
    now = performance.now();
    if (now - batchStart < BATCH_TARGET_MS) batch *= 2;
  } while (now < end);
  const elapsed = (now - start) / 1000;
  return { iterations, seconds: elapsed, hz: iterations / elapsed };
}

/** Median and 99th percentile (nearest rank) of round-trip samples in microseconds. */
export function summarizeLatency(samplesUs: Float64Array): Latency {
  const sorted = samplesUs.slice().sort();
  return { samples: sorted.length, medianUs: percentile(sorted, 0.5), p99Us: percentile(sorted, 0.99) };
}

function percentile(sorted: Float64Array, fraction: number): number {
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;
}
