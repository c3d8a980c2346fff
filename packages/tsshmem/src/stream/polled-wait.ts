/**
 * Asynchronous waits where the runtime gives addons no libuv event loop.
 * Bun (1.x) aborts the process in uv_poll_init and uv_timer_*, on which the
 * native waits (src/native/async_wait.cc) are built. There the count is
 * checked on a JavaScript timer every millisecond instead: a write is seen
 * within about a millisecond plus the runtime's timer slack, and a pending
 * wait costs one timer callback per millisecond.
 */
import { Field, isCounter } from '../format/metadata.js';
import { Status, type NativeStream } from '../native/binding.js';

/** false where the runtime's event loop is not libuv's (Bun). */
export const NATIVE_ASYNC_WAITS = typeof process.versions.bun !== 'string';

const POLL_MS = 1;

/** The part of NativeStream that next() waits with. */
export type AsyncWaiter = Pick<NativeStream, 'waitAsync' | 'cancelWait'>;

export class PolledWait implements AsyncWaiter {
  readonly #meta: Float64Array;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #callback: ((result: number) => void) | undefined;

  /** meta: the handle's live metadata view; native close() empties it. */
  constructor(meta: Float64Array) {
    this.#meta = meta;
  }

  /** NativeStream.waitAsync's contract; spinUs of busy checks first. */
  waitAsync(lastCount: number, timeoutMs: number, spinUs: number, callback: (result: number) => void): number | undefined {
    if (this.#callback !== undefined) throw new Error('a wait is already pending on this stream');
    const now = performance.now();
    const deadline = timeoutMs < 0 ? Infinity : now + timeoutMs;
    const spinUntil = now + spinUs / 1000;
    let result = this.#check(lastCount, deadline);
    while (result === undefined && performance.now() < spinUntil) result = this.#check(lastCount, deadline);
    if (result !== undefined) return result;
    this.#callback = callback;
    const tick = (): void => {
      const settled = this.#check(lastCount, deadline);
      if (settled === undefined) this.#timer = setTimeout(tick, POLL_MS);
      else this.#settle(settled);
    };
    this.#timer = setTimeout(tick, POLL_MS);
    return undefined;
  }

  cancelWait(): void {
    if (this.#callback !== undefined) this.#settle(Status.CANCELLED);
  }

  #check(lastCount: number, deadline: number): number | undefined {
    // A closed handle's metadata buffer is detached: the view is empty.
    if (this.#meta.length === 0) return Status.CANCELLED;
    const count = this.#meta[Field.count]!;
    if (!isCounter(count)) return Status.CORRUPT;
    if (count !== lastCount) return count;
    return performance.now() >= deadline ? Status.TIMED_OUT : undefined;
  }

  #settle(result: number): void {
    clearTimeout(this.#timer);
    const callback = this.#callback!;
    this.#callback = undefined;
    callback(result);
  }
}
