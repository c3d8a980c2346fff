/**
 * Where the wake section runs the two sides of a ping-pong. Left to the
 * scheduler, a futex ping-pong may land both sides on one CPU (a wake is then
 * a context switch, with no inter-processor interrupt) or on two (a wake of
 * an idle virtual CPU, tens of µs on a virtual machine): figures and ratios
 * would depend on that draw. So every case runs in both placements, each
 * pinned, the same CPUs for the C references and for tsshmem.
 */
import { readFileSync } from 'node:fs';

export type PlacementKey = 'oneCpu' | 'separateCpus' | 'unpinned';

export interface Placement {
  readonly key: PlacementKey;
  /** CPU numbers, or -1 for wherever the scheduler puts the side. */
  readonly initiatorCpu: number;
  readonly echoCpu: number;
  /**
   * Whether busy-waiting cases run: on one CPU a spinning side holds the CPU
   * its partner needs, so they would measure the scheduler's time slice.
   */
  readonly spins: boolean;
}

/**
 * Both sides on the first CPU this process may run on, and each on its own of
 * the first two; unpinned where pinning is not possible.
 */
export function pingPongPlacements(canPin: boolean): Placement[] {
  const [first, second] = canPin ? allowedCpus() : [];
  if (first === undefined) return [{ key: 'unpinned', initiatorCpu: -1, echoCpu: -1, spins: true }];
  const oneCpu: Placement = { key: 'oneCpu', initiatorCpu: first, echoCpu: first, spins: false };
  if (second === undefined) return [oneCpu];
  return [oneCpu, { key: 'separateCpus', initiatorCpu: first, echoCpu: second, spins: true }];
}

export const PLACEMENT_TITLES: Readonly<Record<PlacementKey, string>> = {
  oneCpu: 'one CPU',
  separateCpus: 'separate CPUs',
  unpinned: 'unpinned',
};

export function describePlacement(placement: Placement): string {
  if (placement.key === 'unpinned') return 'both sides where the scheduler puts them (pinning needs the C helper run_on_cpu)';
  if (placement.key === 'oneCpu') return `both sides pinned to CPU ${placement.initiatorCpu}`;
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
