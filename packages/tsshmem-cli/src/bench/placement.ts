/**
 * Where the wake section runs the two sides of a ping-pong: each on its own
 * CPU, the same two for the C references and for tsshmem. Left to the
 * scheduler, a futex ping-pong may land both sides on one CPU (a wake is then
 * a context switch of about 2 µs) or on two (a wake of an idle virtual CPU,
 * tens of µs here): figures and ratios would depend on that draw.
 */
import { readFileSync } from 'node:fs';

export interface Placement {
  /** CPU numbers, or -1 for wherever the scheduler puts the side. */
  readonly initiatorCpu: number;
  readonly echoCpu: number;
}

const UNPINNED: Placement = { initiatorCpu: -1, echoCpu: -1 };

/** The first two CPUs this process may run on; unpinned with fewer, or where pinning is not possible. */
export function pingPongPlacement(canPin: boolean): Placement {
  const [initiatorCpu, echoCpu] = canPin ? allowedCpus() : [];
  if (initiatorCpu === undefined || echoCpu === undefined) return UNPINNED;
  return { initiatorCpu, echoCpu };
}

export function describePlacement(placement: Placement): string {
  if (placement.initiatorCpu < 0) return 'both sides where the scheduler puts them (pinning needs 2 CPUs and the C helper run_on_cpu)';
  return `the initiator pinned to CPU ${placement.initiatorCpu}, the echo to CPU ${placement.echoCpu}`;
}

/** Cpus_allowed_list of /proc/self/status, e.g. "0-3,8": [0, 1, 2, 3, 8]. */
function allowedCpus(): number[] {
  try {
    const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
    return list.split(',').flatMap((range) => {
      const [first, last = first] = range.split('-').map(Number);
      if (first === undefined || last === undefined || Number.isNaN(first) || Number.isNaN(last)) return [];
      return Array.from({ length: last - first + 1 }, (_, index) => first + index);
    });
  } catch {
    return [];
  }
}
