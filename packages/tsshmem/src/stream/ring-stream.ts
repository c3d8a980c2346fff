/**
 * class RingStream: a handle on a stream with N frame slots (docs/format.md,
 * Part 3). Every frame is delivered in write order while a reader stays
 * within N frames; losses beyond that are counted exactly. Writers can loan
 * a slot and fill it in place; readers can hold a frame without copying it.
 * It is still a pyshmem stream: the newest frame is also kept in the pyshmem
 * payload unless created with pyshmemFrame: false.
 */
import { setTimeout as delay } from 'node:timers/promises';

import { AbortError, ShmError } from '../errors.js';
import { toPayload, type WritableValue } from '../dtype/convert.js';
import type { ArrayForDtype, Dtype } from '../dtype/table.js';
import { NATIVE_EXTENSION_LAYOUT } from '../format/extension.js';
import { Field, METADATA_FIELDS, type StreamHeader } from '../format/metadata.js';
import { nativeRingLayout, type Overflow, type RingGeometry, ringState, type RingReader } from '../format/ring.js';
import { native, Status, type NativeRing, type NativeStream } from '../native/binding.js';
import { dataBufferOf } from './buffer-limit.js';
import { isCount, readFrame, statusError, throwIfBroken, throwIfMetadataLost, throwIfPayloadLost, type StreamFacts } from './frame-io.js';
import type { StreamLock } from './lock.js';
import { checkBoolean, checkDuration, checkOptions, checkSignal } from './options.js';
import { queueBehind } from './queued-wait.js';
import { Loan, Sample } from './ring-slots.js';
import {
  DEFAULT_READ_TIMEOUT,
  DEFAULT_WRITE_TIMEOUT,
  frameIoOf,
  type ReadOptions,
  readOptions,
  SharedMemory,
  type StreamParts,
  type WaitOptions,
  type WriteAsyncOptions,
  type WriteOptions,
} from './shared-memory.js';

const enum InfoIndex {
  count = 0,
  writeTime = 1,
  ringIndex = 2,
  metaCount = 3,
  hold = 4,
}
/** How often an asynchronous block-mode writer looks for room again. */
const ROOM_POLL_MS = 1;

/**
 * Whether a loan is outstanding on this thread, by lock path: the flock is
 * re-entrant per thread, so it alone cannot keep a second handle of the
 * same thread from writing into the loaned frame's place. Entries are set
 * false rather than deleted: a Set or Map that empties reallocates its
 * table, once per loan.
 */
const loansInProgress = new Map<string, boolean>();

/** A ring's state as tools show it. */
export interface RingStatus {
  /** Ring index of the newest frame (0 before any). */
  readonly head: number;
  /** Registered readers; `behind`: frames published that it has not consumed yet. */
  readonly readers: readonly (RingReader & { readonly behind: number })[];
}

export class RingStream<D extends Dtype = Dtype> extends SharedMemory<D> {
  readonly #header: StreamHeader;
  readonly #geometry: RingGeometry;
  readonly #stream: NativeStream;
  readonly #ring: NativeRing;
  readonly #lock: StreamLock;
  readonly #lockPath: string;
  readonly #info = new Float64Array(5);
  /** The 32 pyshmem fields, live. */
  readonly #meta: Float64Array;
  /** Name, fields and lost word, for frame-io's errors. */
  readonly #facts: StreamFacts;
  #ringClosed = false;
  #loan: Loan<D> | null = null;
  /** Views over the slots, by slot number (see #view). */
  readonly #slotViews: ArrayForDtype[D][] = [];
  #lastReadCount: number;
  #lastWriteTime = 0;
  #missedWrites = 0;
  #totalMissedWrites = 0;
  #pending: Promise<unknown> = Promise.resolve();
  #inFlight = 0;

  /** @internal Use create() with a history, or open(). */
  constructor(parts: StreamParts, geometry: RingGeometry) {
    // Before the base class opens the lock file: a refusal holds nothing.
    const data = dataBufferOf(parts.native, geometry.dataBytes, parts.name, 'a ring stream');
    super(parts);
    this.#header = parts.header;
    this.#geometry = geometry;
    this.#stream = parts.native;
    this.#lockPath = parts.location.lockPath;
    this.#meta = new Float64Array(parts.native.metaBuffer(), 0, METADATA_FIELDS);
    this.#lastReadCount = this.#meta[Field.count]!;
    ({ lock: this.#lock, facts: this.#facts } = frameIoOf(this));
    this.#ring = new native.NativeRing(
      parts.native.metaBuffer(),
      data,
      parts.native.guardEntry(),
      nativeRingLayout(geometry, NATIVE_EXTENSION_LAYOUT),
      this.#info,
      parts.native,
    );
  }

  /** The number of frame slots: how far a reader may fall behind without losing frames. */
  get history(): number {
    this.#checkOpen();
    return this.#geometry.slots;
  }

  /** 'overwrite': writers never wait, slow readers lose the oldest frames. 'block': writers wait for registered readers. */
  get overflow(): Overflow {
    this.#checkOpen();
    return this.#geometry.overflow;
  }

  /** true if every publish also copies the frame into the pyshmem payload (pyshmem peers can open the stream). */
  get pyshmemFrame(): boolean {
    this.#checkOpen();
    return this.#geometry.pyshmemFrame;
  }

  override get lastReadCount(): number {
    this.#checkOpen();
    return this.#lastReadCount;
  }

  /** UNIX time in seconds of the write of the last frame this handle returned. */
  get lastWriteTime(): number {
    this.#checkOpen();
    return this.#lastWriteTime;
  }

  override get missedWrites(): number {
    this.#checkOpen();
    return this.#missedWrites;
  }

  override get totalMissedWrites(): number {
    this.#checkOpen();
    return this.#totalMissedWrites;
  }

  /**
   * Enters this handle in the ring's reader table now (else its first
   * next(), readNewSync() or sample does): from then on block-mode writers
   * wait for it and it may hold samples. false if the table (64 entries) is
   * full of live readers. read() alone never registers: a handle that only
   * looks at the newest frame never holds writers back.
   */
  register(): boolean {
    this.#checkOpen();
    return this.#ring.register();
  }

  /**
   * Copies of every frame the ring holds now, oldest first, each with its
   * count and write time. Moves nothing and registers nothing (for tools).
   */
  heldFrames(): { readonly array: ArrayForDtype[D]; readonly count: number; readonly writeTime: number }[] {
    this.#checkUsable();
    const { head } = ringState(this.#stream.metaBuffer(), this.#geometry);
    const frames = [];
    for (let index = Math.max(1, head - this.#geometry.slots + 1); index <= head; index++) {
      const array = this.#allocate();
      const status = this.#ring.copyFrame(index, this.#header.dtype.nativeView(array));
      throwIfBroken(status, this.#facts);
      if (status === Status.FRAME) frames.push({ array, count: this.#info[InfoIndex.count]!, writeTime: this.#info[InfoIndex.writeTime]! });
    }
    return frames;
  }

  /** The newest frame's ring index and every registered reader with how far behind it is. */
  ringStatus(): RingStatus {
    this.#checkOpen();
    const { head, readers } = ringState(this.#stream.metaBuffer(), this.#geometry);
    return { head, readers: readers.map((reader) => ({ ...reader, behind: Math.max(0, head - reader.cursor) })) };
  }

  /**
   * Publishes one frame (a loan, a copy, a publish). In 'block' mode it
   * blocks the calling thread while a registered reader has no room, up to
   * timeout (default 10000 ms; then ETIMEDOUT, nothing written).
   */
  override write(value: WritableValue, options: WriteOptions = {}): void {
    options = checkOptions(options, 'write(value, options)');
    this.#checkUsable();
    this.#publishCopy(this.#header.dtype.nativeView(toPayload(value, this.#header.dtype, this.#header.shape)), options);
  }

  override clear(options: WriteOptions = {}): void {
    options = checkOptions(options, 'clear(options)');
    this.#checkUsable();
    this.#publishCopy(null, options);
  }

  /**
   * write() without blocking the event loop: waits for the lock as
   * SharedMemory.writeAsync() does and, in 'block' mode, for room (timeout
   * covers both; ETIMEDOUT or AbortError with nothing written).
   */
  override async writeAsync(value: WritableValue, options: WriteAsyncOptions = {}): Promise<void> {
    options = checkOptions(options, 'writeAsync(value, options)');
    this.#checkUsable();
    await this.#publishAsync(this.#header.dtype.nativeView(toPayload(value, this.#header.dtype, this.#header.shape)), options);
  }

  /** clear() without blocking the event loop, as writeAsync(). */
  override async clearAsync(options: WriteAsyncOptions = {}): Promise<void> {
    options = checkOptions(options, 'clearAsync(options)');
    this.#checkUsable();
    await this.#publishAsync(null, options);
  }

  /**
   * Loans the next slot: fill `loan.array` in place, then `loan.publish()`.
   * Holds the write lock until then (other writers, pyshmem's included,
   * wait). Disposing the loan unpublished publishes nothing. In 'block'
   * mode it blocks the thread while a registered reader has no room, up to
   * timeout (default 10000 ms).
   */
  loan(options: WriteOptions = {}): Loan<D> {
    options = checkOptions(options, 'loan(options)');
    this.#checkUsable();
    this.#checkNoLoan();
    const timeout = checkDuration(options.timeout, 'timeout', DEFAULT_WRITE_TIMEOUT);
    if (!this.#lock.held) {
      // The lock is mostly free: one native call takes it and loans (and
      // returns at once if another process holds it).
      const result = this.#ring.loan(timeout, this.#lock.fd);
      if (result !== Status.LOCK_BUSY) {
        if (!isCount(result)) throw this.#loanError(result, timeout);
        this.#lock.enteredNatively();
        return this.#loanOf(result);
      }
    }
    const deadline = performance.now() + timeout;
    this.#lock.acquireSync({ timeout });
    return this.#loanLocked(Math.max(0, deadline - performance.now()), timeout);
  }

  /** loan() that waits for the lock and for room without blocking the event loop. */
  async loanAsync(options: WriteAsyncOptions = {}): Promise<Loan<D>> {
    options = checkOptions(options, 'loanAsync(options)');
    this.#checkUsable();
    this.#checkNoLoan();
    const timeout = checkDuration(options.timeout, 'timeout', DEFAULT_WRITE_TIMEOUT);
    const signal = checkSignal(options.signal);
    const deadline = performance.now() + timeout;
    for (;;) {
      await this.#acquireForLoanOrWrite(deadline, signal);
      try {
        return this.#loanLocked(0, timeout);
      } catch (error) {
        if ((error as { code?: string }).code !== 'ETIMEDOUT' || performance.now() >= deadline) throw error;
      }
      await this.#roomWait(deadline, timeout, signal);
    }
  }

  /** The newest frame (default), or the live pyshmem payload under the lock with { safe: false }. */
  override read(options?: ReadOptions<ArrayForDtype[D]>): ArrayForDtype[D] {
    this.#checkUsable();
    const { safe, out, allowInterrupted, timeout } = readOptions(options);
    if (!safe) return super.read(options);
    const destination = this.#destination(out);
    const status = this.#ring.newest(this.#header.dtype.nativeView(destination));
    throwIfBroken(status, this.#facts);
    const metaCount = this.#metaCount();
    const payloadNewer = this.#geometry.pyshmemFrame && metaCount > (status === Status.FRAME ? this.#info[InfoIndex.count]! : -1);
    if (status === Status.FRAME && !payloadNewer) this.#observe(this.#info[InfoIndex.count]!, this.#info[InfoIndex.writeTime]!);
    else this.#readPayload(destination, timeout, allowInterrupted);
    return destination;
  }

  /**
   * The next frame after the last one this handle returned, in write order;
   * waits (without blocking the event loop) if there is none yet. If the
   * reader fell more than `history` frames behind, the oldest frame still
   * held, and missedWrites says how many were lost.
   */
  override next(options: WaitOptions<ArrayForDtype[D]> = {}): Promise<ArrayForDtype[D]> {
    try {
      options = checkOptions(options, 'next(options)');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#serialized(options, (timeLeft) => this.#await(this.#taker(options), options, timeLeft));
  }

  override readNewSync(options: Omit<WaitOptions<ArrayForDtype[D]>, 'signal'> = {}): ArrayForDtype[D] {
    options = checkOptions(options, 'readNewSync(options)');
    return this.#awaitSync(this.#taker(options), options);
  }

  /** What next() and readNewSync() take: the next frame in order, or with { newest: true } the newest one. */
  #taker(options: Omit<WaitOptions<ArrayForDtype[D]>, 'signal'>): () => ArrayForDtype[D] | null {
    const { out, allowInterrupted } = options;
    return checkBoolean(options.newest, 'newest', false) ? () => this.#takeNewest({ out, allowInterrupted }) : () => this.#takeCopy(out);
  }

  /**
   * next() without a copy: the sample's array is the slot itself, which no
   * writer reuses until sample.release() (or `using`). At most 4 samples per
   * handle (ERR_SAMPLE_LIMIT past that).
   */
  nextSample(options: Omit<WaitOptions<ArrayForDtype[D]>, 'out' | 'safe' | 'allowInterrupted' | 'newest'> = {}): Promise<Sample<D>> {
    try {
      options = checkOptions(options, 'nextSample(options)');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#serialized(options, (timeLeft) => this.#await(() => this.#takeSample(), options, timeLeft));
  }

  /** nextSample() that blocks the calling thread while waiting. */
  readNewSampleSync(options: Omit<WaitOptions<ArrayForDtype[D]>, 'out' | 'safe' | 'allowInterrupted' | 'newest' | 'signal'> = {}): Sample<D> {
    options = checkOptions(options, 'readNewSampleSync(options)');
    return this.#awaitSync(() => this.#takeSample(), options);
  }

  override close(): void {
    if (this.closed) return;
    if (!this.#ringClosed) {
      this.#ringClosed = true;
      if (this.#loan !== null) this.#loan[Symbol.dispose]();
      this.#ring.close();
    }
    super.close();
  }

  override toString(): string {
    return `${super.toString().replace(/^SharedMemory/, 'RingStream').slice(0, -1)}, history=${this.#geometry.slots}, overflow=${this.#geometry.overflow})`;
  }

  /** The base class's getters throw ERR_STREAM_CLOSED on a closed handle, ERR_INVALID_STREAM on a lost metadata object. */
  #checkOpen(): void {
    void this.name;
  }

  /** #checkOpen(), and ERR_INVALID_STREAM once the data object (the frames) is lost. */
  #checkUsable(): void {
    this.#checkOpen();
    throwIfPayloadLost(this.#facts);
  }

  #checkNoLoan(): void {
    if (this.#loan !== null || loansInProgress.get(this.#lockPath) === true) {
      throw new ShmError(
        'ERR_LOAN_ACTIVE',
        `a loan of stream ${JSON.stringify(this.name)} is outstanding on this thread: publish() or dispose it before writing or loaning again`,
      );
    }
  }

  #publishCopy(payload: ArrayBufferView | null, options: WriteOptions): void {
    this.#checkNoLoan();
    const timeout = checkDuration(options.timeout, 'timeout', DEFAULT_WRITE_TIMEOUT);
    let status = this.#ring.write(payload, this.#lock.held ? -1 : this.#lock.fd, timeout);
    if (status === Status.LOCK_BUSY) {
      const deadline = performance.now() + timeout;
      this.#lock.acquireSync({ timeout });
      try {
        status = this.#ring.write(payload, -1, Math.max(0, deadline - performance.now()));
      } finally {
        this.#lock.release();
      }
    }
    if (status === Status.NO_ROOM) throw this.#noRoomError(timeout);
    if (status !== Status.PUBLISHED) throw statusError(status, this.#facts, { timeout });
  }

  async #publishAsync(payload: ArrayBufferView | null, options: WriteAsyncOptions): Promise<void> {
    const timeout = checkDuration(options.timeout, 'timeout', DEFAULT_WRITE_TIMEOUT);
    const signal = checkSignal(options.signal);
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    const deadline = performance.now() + timeout;
    for (;;) {
      this.#checkNoLoan();
      let status = this.#ring.write(payload, this.#lock.held ? -1 : this.#lock.fd, 0);
      if (status === Status.LOCK_BUSY) {
        await this.#acquireForLoanOrWrite(deadline, signal);
        try {
          status = this.#ring.write(payload, -1, 0);
        } finally {
          this.#lock.release();
        }
      }
      if (status === Status.PUBLISHED) return;
      if (status !== Status.NO_ROOM) throw statusError(status, this.#facts, { timeout });
      await this.#roomWait(deadline, timeout, signal);
      throwIfPayloadLost(this.#facts);
    }
  }

  /** Under the lock (taken by the caller, released here unless a loan is returned). */
  #loanLocked(timeoutMs: number, timeout: number): Loan<D> {
    let result: number;
    try {
      result = this.#ring.loan(timeoutMs, -1);
    } catch (error) {
      this.#lock.release();
      throw error;
    }
    if (!isCount(result)) {
      this.#lock.release();
      throw this.#loanError(result, timeout);
    }
    return this.#loanOf(result);
  }

  #loanError(status: number, timeout: number): Error {
    return status === Status.NO_ROOM ? this.#noRoomError(timeout) : statusError(status, this.#facts);
  }

  /** The loan of the slot at offset, the lock held (until it settles). */
  #loanOf(offset: number): Loan<D> {
    const loan = new Loan<D>(this.#view(offset), (publish) => this.#settleLoan(publish));
    this.#loan = loan;
    loansInProgress.set(this.#lockPath, true);
    return loan;
  }

  /**
   * Ends the outstanding loan (its Loan calls this once): publishes it or
   * gives it back, and leaves the lock; a last entry's flock is given back
   * by the same native call.
   */
  #settleLoan(publish: boolean): void {
    this.#loan = null;
    loansInProgress.set(this.#lockPath, false);
    // A truncation while the loan was out left zeros where the slot was
    // (the SIGBUS guard): publish nothing, and say so.
    const lost = this.#facts.lost[0] !== 0;
    const releaseFd = this.#lock.lastEntry ? this.#lock.fd : -1;
    try {
      if (publish && !lost) {
        const status = this.#ring.publish(releaseFd);
        if (status !== Status.PUBLISHED) throw statusError(status, this.#facts);
      } else {
        this.#ring.abandon(releaseFd);
      }
    } finally {
      if (releaseFd >= 0) this.#lock.releasedNatively();
      else this.#lock.release();
    }
    if (publish) {
      throwIfMetadataLost(this.#facts);
      throwIfPayloadLost(this.#facts);
    }
  }

  /**
   * The lock, waited for without blocking the event loop. The lock is
   * re-entrant per thread: a loan this thread made while we waited would
   * let us in, so that is checked again once it is ours.
   */
  async #acquireForLoanOrWrite(deadline: number, signal: AbortSignal | undefined): Promise<void> {
    await this.#lock.acquire({ timeout: Math.max(0, deadline - performance.now()), signal });
    try {
      this.#checkOpen();
      this.#checkNoLoan();
    } catch (error) {
      if (!this.closed) this.#lock.release();
      throw error;
    }
  }

  async #roomWait(deadline: number, timeout: number, signal: AbortSignal | undefined): Promise<void> {
    if (performance.now() >= deadline) throw this.#noRoomError(timeout);
    await delay(ROOM_POLL_MS, undefined, { signal }).catch((error: unknown) => {
      throw new AbortError(undefined, { cause: signal?.reason ?? error });
    });
    this.#checkOpen();
  }

  /**
   * One call at a time per handle: a native wait serves one waiter. With no
   * call in flight, the call starts at once; one that settles without an
   * asynchronous wait (a frame already there, or one arriving while it
   * spins) is never queued. A queued call's signal and timeout count from
   * the call (queued-wait.ts); run gets the time left when its turn comes.
   */
  #serialized<T>(options: { timeout?: number; signal?: AbortSignal }, run: (timeLeft?: number) => T | Promise<T>): Promise<T> {
    if (this.#inFlight === 0) {
      let outcome: T | Promise<T>;
      try {
        outcome = run();
      } catch (error) {
        return Promise.reject(error);
      }
      if (!(outcome instanceof Promise)) return Promise.resolve(outcome);
      return this.#track(outcome);
    }
    const { turn, outcome } = queueBehind(this.#pending, options, run, (timeout) => this.#waitTimeout(timeout));
    this.#track(turn);
    return outcome;
  }

  #track<T>(current: Promise<T>): Promise<T> {
    this.#inFlight++;
    const settled = (): void => {
      this.#inFlight--;
    };
    this.#pending = current.then(settled, settled);
    return current;
  }

  /**
   * take() until it gives a frame, waiting in between. Synchronous (no
   * promise, no microtask) while frames are there or arrive within the
   * spin; a promise once it has to wait asynchronously. Throws what the
   * returned promise would reject with.
   */
  #await<T>(take: () => T | null, options: { timeout?: number; spin?: number; signal?: AbortSignal }, timeLeft?: number): T | Promise<T> {
    this.#checkOpen();
    const timeout = checkDuration(options.timeout, 'timeout', Infinity);
    const spin = checkDuration(options.spin, 'spin', 0);
    const signal = checkSignal(options.signal);
    const left = timeLeft ?? timeout;
    return this.#awaitUntil(take, left === Infinity ? Infinity : performance.now() + left, timeout, spin, signal);
  }

  #awaitUntil<T>(take: () => T | null, deadline: number, timeout: number, spin: number, signal: AbortSignal | undefined): T | Promise<T> {
    for (;;) {
      if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
      const taken = take();
      if (taken !== null) return taken;
      const left = deadline === Infinity ? Infinity : deadline - performance.now();
      if (left <= 0) throw this.#waitTimeout(timeout);
      const waited = this.#waitAsync(this.#info[InfoIndex.metaCount]!, left, Math.min(spin, left), signal);
      if (typeof waited === 'number') {
        this.#checkWait(waited, timeout, signal);
        continue;
      }
      return waited.then((result) => {
        this.#checkWait(result, timeout, signal);
        return this.#awaitUntil(take, deadline, timeout, spin, signal);
      });
    }
  }

  #awaitSync<T>(take: () => T | null, options: { timeout?: number; spin?: number }): T {
    this.#checkOpen();
    const timeout = checkDuration(options.timeout, 'timeout', Infinity);
    const spin = checkDuration(options.spin, 'spin', 0);
    const deadline = performance.now() + timeout;
    for (;;) {
      const taken = take();
      if (taken !== null) return taken;
      const left = deadline - performance.now();
      if (left <= 0) throw this.#waitTimeout(timeout);
      this.#checkWait(this.#stream.waitSync(this.#info[InfoIndex.metaCount]!, left === Infinity ? -1 : left, Math.min(spin, left) * 1000), timeout, undefined);
    }
  }

  /** The new count at once (it came while spinning), or a promise of it. */
  #waitAsync(count: number, left: number, spin: number, signal: AbortSignal | undefined): number | Promise<number> {
    let settle!: (result: number) => void;
    const settled = new Promise<number>((resolve) => (settle = resolve));
    const immediate = this.#stream.waitAsync(count, left === Infinity ? -1 : left, spin * 1000, settle);
    if (immediate !== undefined) return immediate;
    if (signal === undefined) return settled;
    const cancel = (): void => this.#stream.cancelWait();
    signal.addEventListener('abort', cancel, { once: true });
    return settled.finally(() => signal.removeEventListener('abort', cancel));
  }

  #checkWait(result: number, timeout: number, signal: AbortSignal | undefined): void {
    if (isCount(result)) return;
    // A wait cancelled by close() reports the closed handle.
    if (result === Status.CANCELLED) this.#checkOpen();
    throw statusError(result, this.#facts, { timeout, signal });
  }

  /**
   * The newest frame, if a write landed since the last frame this handle
   * returned, else null; never registers (read() does not).
   */
  #takeNewest(options: ReadOptions<ArrayForDtype[D]>): ArrayForDtype[D] | null {
    this.#checkUsable();
    const count = this.#metaCount();
    // As the native takes report it: the count this look saw, past which a wait then waits.
    this.#info[InfoIndex.metaCount] = count;
    return count === this.#lastReadCount ? null : this.read(options);
  }

  /** The next frame copied into out (or a new array), or null if there is none yet. */
  #takeCopy(out: ArrayForDtype[D] | undefined): ArrayForDtype[D] | null {
    this.#checkUsable();
    const destination = this.#destination(out);
    const status = this.#ring.take(this.#header.dtype.nativeView(destination), this.#lastReadCount);
    if (status === Status.FRAME) {
      this.#observe(this.#info[InfoIndex.count]!, this.#info[InfoIndex.writeTime]!);
      return destination;
    }
    throwIfBroken(status, this.#facts);
    if (!this.#foreignFrameWaits()) return null;
    this.#readPayload(destination);
    return destination;
  }

  #takeSample(): Sample<D> | null {
    this.#checkUsable();
    const result = this.#ring.takeSample(this.#lastReadCount);
    if (isCount(result)) {
      const count = this.#info[InfoIndex.count]!;
      const writeTime = this.#info[InfoIndex.writeTime]!;
      const hold = this.#info[InfoIndex.hold]!;
      this.#observe(count, writeTime);
      return new Sample<D>(this.#view(result), count, writeTime, () => this.#ring.releaseSample(hold));
    }
    if (result === Status.HOLD_LIMIT || result === Status.NO_READER_ENTRY) throw this.#sampleLimitError(result);
    throwIfBroken(result, this.#facts);
    if (!this.#foreignFrameWaits()) return null;
    // A pyshmem writer's frame lives only in the payload, which the next
    // write overwrites in place: such a sample is a copy.
    const copy = this.#allocate();
    this.#readPayload(copy);
    return new Sample<D>(copy, this.#lastReadCount, this.#lastWriteTime, () => undefined);
  }

  /** Nothing newer in the ring, but the count moved: a pyshmem writer wrote a frame only the payload holds. */
  #foreignFrameWaits(): boolean {
    return this.#geometry.pyshmemFrame && this.#info[InfoIndex.metaCount]! > this.#lastReadCount;
  }

  /** The pyshmem payload, as a seqlock copy; its write time is read after the copy. */
  #readPayload(destination: ArrayForDtype[D], timeout = DEFAULT_READ_TIMEOUT, allowInterrupted = false): void {
    const count = readFrame(this.#stream, this.#lock, this.#facts, this.#header.dtype.nativeView(destination), timeout, allowInterrupted);
    this.#observe(count, this.#metaWriteTime());
  }

  #observe(count: number, writeTime: number): void {
    const missed = Math.max(0, count - this.#lastReadCount - 1);
    this.#missedWrites = missed;
    this.#totalMissedWrites += missed;
    this.#lastReadCount = count;
    this.#lastWriteTime = writeTime;
  }

  #metaCount(): number {
    return this.#meta[Field.count]!;
  }

  #metaWriteTime(): number {
    return this.#meta[Field.writeTime]!;
  }

  #elements(): number {
    return this.#header.size / this.#header.dtype.itemSize;
  }

  /**
   * A loaned or held slot, viewed through the stream's one data ArrayBuffer:
   * one view per slot, made on its first use and handed out again for every
   * later loan or sample of that slot, so nothing is allocated per frame.
   * The view outlives the loan or sample (it then aliases a slot that
   * writers reuse) until close() detaches the buffer and every such view
   * reads as empty.
   */
  #view(offset: number): ArrayForDtype[D] {
    const slot = (offset - this.#geometry.slotsOffset) / this.#geometry.stride;
    return (this.#slotViews[slot] ??= new this.#header.dtype.ArrayType(this.#stream.dataBuffer(), offset, this.#elements()) as ArrayForDtype[D]);
  }

  #allocate(): ArrayForDtype[D] {
    return new this.#header.dtype.ArrayType(Buffer.allocUnsafeSlow(this.#header.size).buffer, 0, this.#elements()) as ArrayForDtype[D];
  }

  #destination(out: ArrayForDtype[D] | undefined): ArrayForDtype[D] {
    if (out === undefined) return this.#allocate();
    // The base class's read() owns the check and its wording.
    if (!(out instanceof this.#header.dtype.ArrayType) || out.length !== this.#elements()) super.read({ out, safe: true, timeout: 0 });
    return out;
  }

  #noRoomError(timeout: number): ShmError {
    const { head, readers } = this.ringStatus();
    const slowest = readers.reduce<(typeof readers)[number] | null>((worst, reader) => (worst === null || reader.behind > worst.behind ? reader : worst), null);
    const who = slowest === null ? 'every slot is held by samples' : `reader pid ${slowest.pid} is ${slowest.behind} of ${this.#geometry.slots} frames behind`;
    return new ShmError(
      'ETIMEDOUT',
      `write to ring stream ${JSON.stringify(this.name)} (overflow '${this.#geometry.overflow}', head ${head}) found no room within ${timeout} ms: ${who}; ` +
        'readers free room by reading and by releasing samples (pass a longer timeout to wait longer)',
    );
  }

  #sampleLimitError(status: number): ShmError {
    return new ShmError(
      'ERR_SAMPLE_LIMIT',
      status === Status.HOLD_LIMIT
        ? `this handle of stream ${JSON.stringify(this.name)} already holds 4 samples: release() one (or use \`using\`) before taking another`
        : `the reader table of stream ${JSON.stringify(this.name)} is full of live readers: this handle cannot hold samples; use next(), or close other readers`,
    );
  }

  #waitTimeout(timeout: number): Error {
    return statusError(Status.TIMED_OUT, this.#facts, { timeout });
  }
}
