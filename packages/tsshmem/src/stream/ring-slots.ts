/**
 * Loaned slots (writer side) and held samples (reader side) of a ring
 * stream: typed arrays over a ring slot itself, no copy, through the
 * stream's one data ArrayBuffer (nothing is allocated per frame). An array
 * kept after its slot was given back still aliases that slot, which writers
 * reuse: reading it is allowed (it never crashes: the mapping lives until
 * close()) but its content may be a later frame. close() detaches the data
 * buffer, so every such array then reads as empty (length 0).
 */
import type { ArrayForDtype, Dtype } from '../dtype/table.js';

/** A slot loaned by RingStream.loan(): fill `array` in place, then publish(). */
export class Loan<D extends Dtype = Dtype> implements Disposable {
  readonly #array: ArrayForDtype[D];
  /** Publishes (true) or gives the slot back (false), then leaves the lock. */
  readonly #settle: (publish: boolean) => void;
  #settled = false;

  /** @internal Use RingStream.loan(). */
  constructor(array: ArrayForDtype[D], settle: (publish: boolean) => void) {
    this.#array = array;
    this.#settle = settle;
  }

  /** The frame to fill, over the slot itself. Write it only before publish(): afterwards the slot belongs to readers and later writers. */
  get array(): ArrayForDtype[D] {
    return this.#array;
  }

  /** true once published or disposed. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Publishes the frame to every reader, then gives the slot (and the write lock) back. */
  publish(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#settle(true);
  }

  /** Gives the slot back without publishing (a no-op after publish()). */
  [Symbol.dispose](): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#settle(false);
  }
}

/** A frame held by RingStream.nextSample(): `array` is the slot itself; release() gives it back. */
export class Sample<D extends Dtype = Dtype> implements Disposable {
  readonly #array: ArrayForDtype[D];
  readonly #count: number;
  readonly #writeTime: number;
  #release: (() => void) | null;

  /** @internal Use RingStream.nextSample() or readNewSampleSync(). */
  constructor(array: ArrayForDtype[D], count: number, writeTime: number, release: (() => void) | null) {
    this.#array = array;
    this.#count = count;
    this.#writeTime = writeTime;
    this.#release = release;
  }

  /** The frame, read-only by contract. Valid until release(); afterwards it aliases a slot writers reuse; empty (length 0) once the stream is closed. */
  get array(): ArrayForDtype[D] {
    return this.#array;
  }

  /** The stream's count of this frame's write (1 for the first write). */
  get count(): number {
    return this.#count;
  }

  /** UNIX time in seconds of this frame's write. */
  get writeTime(): number {
    return this.#writeTime;
  }

  get released(): boolean {
    return this.#release === null;
  }

  /** Lets writers reuse the slot (the array then may show a later frame). Idempotent. */
  release(): void {
    const release = this.#release;
    this.#release = null;
    release?.();
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
