/**
 * Node's longest timer, in milliseconds (2^31 - 1, about 24.8 days):
 * setTimeout and setInterval run a longer delay after 1 ms, with a
 * TimeoutOverflowWarning. The repository's tools bound every user-supplied
 * duration that feeds a timer by it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
