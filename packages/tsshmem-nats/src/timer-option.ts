/** The check of the bridge's millisecond options, made before connecting so that a bad one changes nothing. */
import { MAX_TIMER_MS } from 'tsshmem/internal';

import { BridgeError } from './errors.js';

/** Milliseconds that feed a timer or a wait: above 0 and at most Node's longest timer (a longer one would fire after 1 ms). */
export function checkTimerMilliseconds(milliseconds: number | undefined, option: string): void {
  if (milliseconds !== undefined && !(typeof milliseconds === 'number' && milliseconds > 0 && milliseconds <= MAX_TIMER_MS)) {
    throw new BridgeError(
      'ERR_BRIDGE_ARGUMENT',
      `${option} must be milliseconds above 0 and at most ${MAX_TIMER_MS} (2^31 - 1, Node's longest timer), got ${String(milliseconds)}`,
    );
  }
}
