/**
 * A wait queued behind another on the same handle (a handle's waits are
 * served in order: one native wait serves one waiter). While it is queued its
 * own signal and timeout still count: it rejects as soon as the signal aborts
 * or the timeout passes, and when its turn comes it is skipped, taking no
 * frame. A turn that has started waits with the time left.
 */
import { AbortError } from '../errors.js';
import { MAX_TIMER_MS } from '../timer-limit.js';

/**
 * run, queued behind previous. turn: settles once run has run (with the
 * time left of a finite timeout) or was skipped (skipped() is then called
 * instead), for the next call to queue behind; outcome: what the caller gets.
 */
export function queueBehind<T>(
  previous: Promise<unknown>,
  options: { readonly timeout?: unknown; readonly signal?: unknown },
  run: (timeLeft?: number) => T | Promise<T>,
  timedOut: (timeout: number) => Error,
  skipped: () => void = () => undefined,
): { turn: Promise<T | undefined>; outcome: Promise<T> } {
  const queued = QueuedWait.of(options);
  const start = (): T | Promise<T> | undefined => {
    if (queued === null) return run();
    if (queued.start()) return run(queued.timeLeft());
    skipped();
    return undefined;
  };
  const turn = previous.then(start, start);
  return { turn, outcome: queued === null ? (turn as Promise<T>) : queued.outcome(turn as Promise<T>, timedOut) };
}

class QueuedWait {
  readonly #timeout: number;
  readonly #signal: AbortSignal | undefined;
  readonly #queuedAt = performance.now();
  #abandoned = false;
  #stopWatching: () => void = () => undefined;

  /**
   * A queued wait for these options, or null when there is nothing to watch
   * (no signal, no finite timeout). Invalid options are not judged here: the
   * turn itself rejects them.
   */
  static of(options: { readonly timeout?: unknown; readonly signal?: unknown }): QueuedWait | null {
    const timeout = typeof options.timeout === 'number' && options.timeout >= 0 ? options.timeout : Infinity;
    const signal = options.signal instanceof AbortSignal ? options.signal : undefined;
    return timeout === Infinity && signal === undefined ? null : new QueuedWait(timeout, signal);
  }

  private constructor(timeout: number, signal: AbortSignal | undefined) {
    this.#timeout = timeout;
    this.#signal = signal;
  }

  /**
   * turn's outcome, or an earlier rejection while still queued: an
   * AbortError when the signal aborts, timedOut(timeout) when the timeout
   * passes.
   */
  outcome<T>(turn: Promise<T>, timedOut: (timeout: number) => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const abandon = (error: Error): void => {
        this.#abandoned = true;
        this.#stopWatching();
        reject(error);
      };
      const signal = this.#signal;
      const onAbort = (): void => abandon(new AbortError(undefined, { cause: signal?.reason }));
      let timer: ReturnType<typeof setTimeout> | undefined;
      // A timeout past Node's longest timer (which would fire after 1 ms) runs as a chain of timers of at most that length.
      const armTimer = (): void => {
        const left = this.timeLeft();
        timer = left > MAX_TIMER_MS ? setTimeout(armTimer, MAX_TIMER_MS) : setTimeout(() => abandon(timedOut(this.#timeout)), left);
      };
      if (this.#timeout !== Infinity) armTimer();
      this.#stopWatching = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      turn.then(resolve, reject);
    });
  }

  /**
   * Its turn came: false if it was abandoned meanwhile (skip it); else the
   * watch stops, and the wait goes on with timeLeft().
   */
  start(): boolean {
    this.#stopWatching();
    return !this.#abandoned;
  }

  /** Milliseconds of its timeout left now. */
  timeLeft(): number {
    return Math.max(0, this.#timeout - (performance.now() - this.#queuedAt));
  }
}
