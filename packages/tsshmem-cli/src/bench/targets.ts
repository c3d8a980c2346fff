/** The targets: ratios taken inside one run, each with its goal and whether it is met. */
import { formatMicros, formatPercent, formatTimes } from './units.js';

export interface TargetCheck {
  readonly target: string;
  /** The ratio (or share) measured; null where the target is not a ratio. */
  readonly ratio: number | null;
  readonly measured: string;
  readonly goal: string;
  /** null where there is no goal to meet. */
  readonly met: boolean | null;
}

/** A rate as a share of a reference rate, which must reach minimum. */
export function shareAtLeast(target: string, ratio: number, minimum: number, of: string): TargetCheck {
  return { target, ratio, measured: `${formatPercent(ratio)} of ${of}`, goal: `>= ${formatPercent(minimum)}`, met: ratio >= minimum };
}

/** A latency as a multiple of a reference latency, which must not exceed maximum. */
export function timesAtMost(target: string, ratio: number, maximum: number, of: string): TargetCheck {
  return { target, ratio, measured: `${formatTimes(ratio)} ${of}`, goal: `<= ${formatTimes(maximum)}`, met: ratio <= maximum };
}

/** A latency in microseconds, which must not exceed maximumUs. */
export function latencyAtMost(target: string, us: number, maximumUs: number): TargetCheck {
  return { target, ratio: null, measured: formatMicros(us), goal: `<= ${formatMicros(maximumUs)}`, met: us <= maximumUs };
}

/** A CPU share, which must stay below limit. */
export function coreShareBelow(target: string, share: number, limit: number): TargetCheck {
  return { target, ratio: share, measured: `${formatPercent(share)} of a core`, goal: `< ${formatPercent(limit)}`, met: share < limit };
}

/** A figure the issue asks to report beside its reference, with no goal; ratio where it is one. */
export function reported(target: string, measured: string, ratio: number | null = null): TargetCheck {
  return { target, ratio, measured, goal: 'reported', met: null };
}
