/**
 * class SharedMemory: one open handle on a named stream. Obtain it with
 * create() or open() (src/stream/lifecycle.ts); the constructor is internal.
 */

import { AbortError, describeValue, invalidArgType, ShmError } from '../errors.js';
import { formatShape, toPayload, type WritableValue } from '../dtype/convert.js';
import type { ArrayForDtype, Dtype } from '../dtype/table.js';
import { Field, gpuDeviceLabel, METADATA_FIELDS, type StreamHeader } from '../format/metadata.js';
import type { StreamLocation } from '../format/names.js';
import { lostWordOf, Status, type NativeStream, type WaitStats } from '../native/binding.js';
import { dataBufferOf } from './buffer-limit.js';
import { isCount, publishFrame, publishFrameAsync, readFrame, statusError, throwIfMetadataLost, throwIfPayloadLost, type StreamFacts } from './frame-io.js';
import { type AcquireOptions, type LockInfo, StreamLock } from './lock.js';
import { checkBoolean, checkDuration, checkOptions, checkSignal } from './options.js';
import { type AsyncWaiter, NATIVE_ASYNC_WAITS, PolledWait } from './polled-wait.js';
import { queueBehind } from './queued-wait.js';
import { unlinkStream } from './segments.js';

/** How long a safe read waits for a write in progress before ETIMEDOUT, by default. */
export const DEFAULT_READ_TIMEOUT = 5000;
/** How long write() and clear() wait for a lock held by another process, by default. */
export const DEFAULT_WRITE_TIMEOUT = 10000;

export interface ReadOptions<A> {
  /** true (default): a consistent copy (seqlock). false: the live view; requires holding the lock. */
  readonly safe?: boolean;
  /** Copy into this array (of the stream's dtype and element count) instead of allocating. */
  readonly out?: A;
  /** Milliseconds to wait for a write in progress to finish; default 5000. */
  readonly timeout?: number;
  /**
   * When a writer died mid-write (the sequence is odd and nobody holds the
   * lock): false (default) throws ERR_WRITE_INTERRUPTED; true returns the
   * payload as it is.
   */
  readonly allowInterrupted?: boolean;
}

export interface WaitOptions<A> extends Omit<ReadOptions<A>, 'timeout'> {
  /** Milliseconds to wait for a new write; default Infinity. */
  readonly timeout?: number;
  /** Cancels the wait with an AbortError. */
  readonly signal?: AbortSignal;
  /**
   * Milliseconds (fractions allowed: 0.05 is 50 µs) to busy-wait on the
   * calling thread before sleeping in the kernel; default 0. Lowest latency
   * where a core is spare; the event loop is blocked while spinning. Never
   * longer than timeout.
   */
  readonly spin?: number;
  /**
   * Ring streams: return the newest write instead of the next in order, and
   * do not register as a reader, so that a monitor (a viewer, a dashboard)
   * never holds block-mode writers back. Plain streams always return the
   * newest write. Default false.
   */
  readonly newest?: boolean;
}

export type { WaitStats };

export interface WriteOptions {
  /** Milliseconds to wait for the lock if another process holds it; default 10000. */
  readonly timeout?: number;
}

export interface WriteAsyncOptions extends WriteOptions {
  /** Cancels the wait for the lock with an AbortError; nothing is written. */
  readonly signal?: AbortSignal;
}

/** What create() and open() hand to the constructor. */
export interface StreamParts {
  /** The stream's name, or its base name when opened by base name. */
  readonly name: string;
  readonly location: StreamLocation;
  readonly header: StreamHeader;
  readonly native: NativeStream;
  readonly owner: boolean;
  readonly exclusiveWriter: boolean;
  /** The creator's permission bits, given to a lock file it creates. */
  readonly lockMode?: number;
}

/** A handle's one lock and the facts its errors name (name, live metadata, lost word). */
export interface FrameIo {
  readonly lock: StreamLock;
  readonly facts: StreamFacts;
}

/** Kept off the public prototype: only subclasses in this package (RingStream) read it, via frameIoOf(). */
const frameIos = new WeakMap<SharedMemory, FrameIo>();

/** @internal The FrameIo of a handle, for RingStream. */
export function frameIoOf(stream: SharedMemory): FrameIo {
  return frameIos.get(stream)!;
}

export class SharedMemory<D extends Dtype = Dtype> implements Disposable {
  readonly #name: string;
  readonly #location: StreamLocation;
  readonly #header: StreamHeader;
  readonly #owner: boolean;
  readonly #lock: StreamLock;
  #native: NativeStream | null;
  readonly #waiter: AsyncWaiter;
  readonly #meta: Float64Array;
  readonly #facts: StreamFacts;
  #liveView: ArrayForDtype[D] | null = null;
  #lastReadCount: number;
  #missedWrites = 0;
  #totalMissedWrites = 0;
  /** The last next() still in flight, which a new one queues behind; null when none is. */
  #lastWait: Promise<unknown> | null = null;
  #waitsInFlight = 0;

  /** @internal Use create() or open(). */
  constructor(parts: StreamParts) {
    this.#name = parts.name;
    this.#location = parts.location;
    this.#header = parts.header;
    this.#owner = parts.owner;
    this.#native = parts.native;
    this.#meta = new Float64Array(parts.native.metaBuffer(), 0, METADATA_FIELDS);
    this.#waiter = NATIVE_ASYNC_WAITS ? parts.native : new PolledWait(this.#meta);
    this.#lastReadCount = this.#meta[Field.count]!;
    this.#facts = { name: parts.name, meta: this.#meta, lost: lostWordOf(parts.native) };
    this.#lock = new StreamLock(parts.location.lockPath, parts.native, this.#facts, () => this.#open(), parts.lockMode);
    frameIos.set(this, { lock: this.#lock, facts: this.#facts });
    parts.native.useLockFile(this.#lock.fd);
    if (parts.exclusiveWriter) {
      try {
        this.#lock.claim();
      } catch (error) {
        this.close();
        throw error;
      }
    }
  }

  get name(): string {
    this.#open();
    return this.#name;
  }

  get shape(): readonly number[] {
    this.#open();
    return this.#header.shape;
  }

  get dtype(): D {
    this.#open();
    return this.#header.dtype.name as D;
  }

  /** Payload bytes. */
  get size(): number {
    this.#open();
    return this.#header.size;
  }

  /** 'cuda:N' for a GPU stream, null for a CPU stream. */
  get gpuDevice(): string | null {
    this.#open();
    return this.#gpuDevice();
  }

  /** true when the data segment holds the payload (always for CPU streams). */
  get cpuMirror(): boolean {
    this.#open();
    return this.#header.cpuMirror;
  }

  /** true on the handle that created the stream. */
  get owner(): boolean {
    this.#open();
    return this.#owner;
  }

  /** Completed writes since creation. */
  get count(): number {
    return this.#field(Field.count);
  }

  /** UNIX time in seconds of the last completed write, 0 before any. */
  get writeTime(): number {
    return this.#field(Field.writeTime);
  }

  /** Even when stable, odd while a write is in progress. */
  get writeSequence(): number {
    return this.#field(Field.writeSequence);
  }

  /** The count of the last write this handle observed (read, readNew, next). */
  get lastReadCount(): number {
    this.#open();
    return this.#lastReadCount;
  }

  /** Writes skipped between the last two observations of this handle. */
  get missedWrites(): number {
    this.#open();
    return this.#missedWrites;
  }

  /** Writes skipped over the handle's life. */
  get totalMissedWrites(): number {
    this.#open();
    return this.#totalMissedWrites;
  }

  /**
   * How this handle's waits (next(), readNew(), readNewSync(), frames())
   * ended so far: woken by a writer, found by a periodic re-check, immediate,
   * timed out, cancelled.
   */
  get waitStats(): WaitStats {
    return this.#open().waitStats();
  }

  /** true while this thread holds the stream's lock. */
  get holdsLock(): boolean {
    this.#open();
    return this.#lock.held;
  }

  get closed(): boolean {
    return this.#native === null;
  }

  /** Waits (without blocking the event loop) for the cross-process lock. Re-entrant. */
  async acquire(options: AcquireOptions = {}): Promise<void> {
    options = checkOptions(options, 'acquire(options)');
    this.#open();
    checkSignal(options.signal);
    await this.#lock.acquire(options);
  }

  /** Blocks the calling thread until the lock is taken or timeout passes. Re-entrant. */
  acquireSync(options: AcquireOptions = {}): void {
    options = checkOptions(options, 'acquireSync(options)');
    this.#open();
    this.#lock.acquireSync(options);
  }

  release(): void {
    this.#open();
    this.#lock.release();
  }

  /** Who holds the lock now; resets a stale owner pid left by a holder that died. */
  lockInfo(): LockInfo {
    this.#open();
    return this.#lock.inspect();
  }

  /** Takes the lock synchronously; the returned object releases it, e.g. with `using`, and does nothing once the handle closed (close() released it). */
  lock(options: AcquireOptions = {}): Disposable & { release(): void } {
    options = checkOptions(options, 'lock(options)');
    this.acquireSync(options);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#lock.release();
    };
    return { release, [Symbol.dispose]: release };
  }

  /** Runs fn under the lock (sync or async) and returns its result; releases even if it throws, or closes the handle (close() releases). */
  async locked<T>(fn: () => T | PromiseLike<T>, options: AcquireOptions = {}): Promise<Awaited<T>> {
    if (typeof fn !== 'function') throw invalidArgType(`locked() takes a function, received ${describeValue(fn)}`);
    await this.acquire(options);
    try {
      return await fn();
    } finally {
      this.#lock.release();
    }
  }

  /**
   * Publishes one frame: converts value to the stream's dtype and shape,
   * takes the lock (unless held), copies under the seqlock, wakes waiters.
   * Synchronous. A rejected value changes nothing.
   */
  write(value: WritableValue, options: WriteOptions = {}): void {
    options = checkOptions(options, 'write(value, options)');
    const native = this.#open();
    this.#checkCpuWritable();
    const { dtype, shape } = this.#header;
    this.#publish(native, dtype.nativeView(toPayload(value, dtype, shape)), options);
  }

  /** Writes zeros; counts as a write. */
  clear(options: WriteOptions = {}): void {
    options = checkOptions(options, 'clear(options)');
    const native = this.#open();
    this.#checkCpuWritable();
    this.#publish(native, null, options);
  }

  /**
   * write() without blocking the event loop: if another process holds the
   * lock, waits for it as acquire() does (timeout, signal), then writes.
   * Rejects with ETIMEDOUT or AbortError having written nothing.
   */
  async writeAsync(value: WritableValue, options: WriteAsyncOptions = {}): Promise<void> {
    options = checkOptions(options, 'writeAsync(value, options)');
    this.#open();
    this.#checkCpuWritable();
    const { dtype, shape } = this.#header;
    await this.#publishAsync(dtype.nativeView(toPayload(value, dtype, shape)), options);
  }

  /** clear() without blocking the event loop, as writeAsync(). */
  async clearAsync(options: WriteAsyncOptions = {}): Promise<void> {
    options = checkOptions(options, 'clearAsync(options)');
    this.#open();
    this.#checkCpuWritable();
    await this.#publishAsync(null, options);
  }

  /** A consistent snapshot (default), or the live view under the lock with { safe: false }. */
  read(options?: ReadOptions<ArrayForDtype[D]>): ArrayForDtype[D] {
    const native = this.#open();
    this.#checkCpuReadable();
    const { safe, out, allowInterrupted, timeout } = readOptions(options);
    if (!safe) return this.#readLive(native);
    const destination = out === undefined ? this.#allocate() : this.#checkOut(out);
    this.#observe(readFrame(native, this.#lock, this.#facts, this.#header.dtype.nativeView(destination), timeout, allowInterrupted));
    return destination;
  }

  /**
   * Resolves with the first write newer than the last one this handle
   * observed. Calls on one handle are served in order; a queued call's
   * signal and timeout count from the call (queued-wait.ts).
   */
  next(options: WaitOptions<ArrayForDtype[D]> = {}): Promise<ArrayForDtype[D]> {
    try {
      options = checkOptions(options, 'next(options)');
    } catch (error) {
      return Promise.reject(error);
    }
    const previous = this.#lastWait;
    this.#waitsInFlight += 1;
    if (previous === null) {
      const current = this.#nextNow(options);
      // A wait that settled at once is no longer in flight: nothing to queue behind.
      if (this.#waitsInFlight > 0) this.#lastWait = current;
      return current;
    }
    const { turn, outcome } = queueBehind(
      previous,
      options,
      (timeLeft) => this.#nextNow(options, timeLeft),
      (timeout) => statusError(Status.TIMED_OUT, this.#facts, { timeout }),
      () => this.#waitSettled(),
    );
    this.#lastWait = turn;
    return outcome;
  }

  /** Once per next(), when its wait settles: calls are served in order, so the last one settling empties the queue. */
  #waitSettled(): void {
    this.#waitsInFlight -= 1;
    if (this.#waitsInFlight === 0) this.#lastWait = null;
  }

  /**
   * One wait and its read; the native callback reads and settles the promise
   * directly (no extra promise hop). timeLeft: of a queued call's timeout.
   */
  #nextNow(options: WaitOptions<ArrayForDtype[D]>, timeLeft?: number): Promise<ArrayForDtype[D]> {
    return new Promise((resolve, reject) => {
      let timeout = Infinity;
      let signal: AbortSignal | undefined;
      let settled = false;
      const cancel = (): void => this.#waiter.cancelWait();
      const settle = (result: number): void => {
        settled = true;
        this.#waitSettled();
        signal?.removeEventListener('abort', cancel);
        try {
          resolve(this.#afterWait(result, timeout, signal, options));
        } catch (error) {
          reject(error);
        }
      };
      try {
        this.#open();
        this.#checkCpuReadable();
        throwIfPayloadLost(this.#facts);
        timeout = checkDuration(options.timeout, 'timeout', Infinity);
        const left = timeLeft ?? timeout;
        const spin = Math.min(checkDuration(options.spin, 'spin', 0), left);
        checkBoolean(options.newest, 'newest', false);
        this.#checkReadAfterWait(options);
        signal = checkSignal(options.signal);
        if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
        const immediate = this.#waiter.waitAsync(this.#lastReadCount, left === Infinity ? -1 : left, spin * 1000, settle);
        if (immediate !== undefined) settle(immediate);
        else if (!settled) signal?.addEventListener('abort', cancel, { once: true });
      } catch (error) {
        this.#waitSettled();
        reject(error);
      }
    });
  }

  #afterWait(result: number, timeout: number, signal: AbortSignal | undefined, options: ReadOptions<ArrayForDtype[D]>): ArrayForDtype[D] {
    // A wait cancelled by close() reports the closed handle.
    if (result === Status.CANCELLED) this.#open();
    if (!isCount(result)) throw statusError(result, this.#facts, { timeout, signal });
    return this.#readAfterWait(options);
  }

  /** The wait's timeout is not the read's: a write in progress gets the read's own default. */
  #readAfterWait({ safe, out, allowInterrupted }: ReadOptions<ArrayForDtype[D]>): ArrayForDtype[D] {
    return this.read({ safe, out, allowInterrupted });
  }

  /** pyshmem's name for next(). */
  readNew(options: WaitOptions<ArrayForDtype[D]> = {}): Promise<ArrayForDtype[D]> {
    return this.next(options);
  }

  /** Like next(), but blocks the calling thread while waiting (no signal). */
  readNewSync(options: Omit<WaitOptions<ArrayForDtype[D]>, 'signal'> = {}): ArrayForDtype[D] {
    options = checkOptions(options, 'readNewSync(options)');
    const native = this.#open();
    this.#checkCpuReadable();
    throwIfPayloadLost(this.#facts);
    const timeout = checkDuration(options.timeout, 'timeout', Infinity);
    const spin = Math.min(checkDuration(options.spin, 'spin', 0), timeout);
    checkBoolean(options.newest, 'newest', false);
    this.#checkReadAfterWait(options);
    const result = native.waitSync(this.#lastReadCount, timeout === Infinity ? -1 : timeout, spin * 1000);
    if (!isCount(result)) throw statusError(result, this.#facts, { timeout });
    return this.#readAfterWait(options);
  }

  /** Every new write, as next() returns them, until the signal aborts or the handle closes. */
  async *frames(options: WaitOptions<ArrayForDtype[D]> = {}): AsyncGenerator<ArrayForDtype[D], void, undefined> {
    options = checkOptions(options, 'frames(options)');
    for (;;) yield await this.next(options);
  }

  /**
   * Restores an even write sequence left odd by a writer that died mid-write,
   * without writing. Returns true if a repair was needed. Takes the lock.
   */
  repair(options: AcquireOptions = {}): boolean {
    options = checkOptions(options, 'repair(options)');
    const native = this.#open();
    this.#lock.acquireSync(options);
    try {
      const repaired = native.repairSequence();
      throwIfMetadataLost(this.#facts);
      return repaired;
    } finally {
      this.#lock.release();
    }
  }

  /** Unmaps this handle; the stream stays for others. Idempotent. */
  close(): void {
    const native = this.#native;
    if (native === null) return;
    this.#native = null;
    this.#liveView = null;
    // In this order: the lock's owner record needs the mapping, and a pending
    // wait probes the lock file's descriptor until native.close().
    this.#lock.releaseHeld();
    native.close();
    if (this.#waiter !== native) this.#waiter.cancelWait();
    this.#lock.close();
  }

  /** Removes the stream's objects (data, metadata, GPU handle, lock file) and closes this handle. */
  unlink(): void {
    this.#open();
    unlinkStream(this.#location);
    this.close();
  }

  /** Same as unlink(). */
  delete(): void {
    this.unlink();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `SharedMemory(name=${JSON.stringify(this.#name)}, shape=${formatShape(this.#header.shape)}, dtype=${this.#header.dtype.name}, gpuDevice=${this.#gpuDevice() ?? 'null'})`;
  }

  #gpuDevice(): string | null {
    return gpuDeviceLabel(this.#header);
  }

  /**
   * A metadata field, checked before and after the load: a truncation of the
   * metadata object that this load itself ran into leaves zeros behind.
   */
  #field(index: number): number {
    this.#open();
    const value = this.#meta[index]!;
    throwIfMetadataLost(this.#facts);
    return value;
  }

  /** The open native stream; throws on a closed handle, or once another process truncated its metadata object. */
  #open(): NativeStream {
    if (this.#native === null) {
      throw new ShmError(
        'ERR_STREAM_CLOSED',
        `this handle of stream ${JSON.stringify(this.#name)} is closed shared memory: reopen it with open(${JSON.stringify(this.#name)})`,
      );
    }
    throwIfMetadataLost(this.#facts);
    return this.#native;
  }

  #publish(native: NativeStream, payload: ArrayBufferView | null, options: WriteOptions): void {
    publishFrame(native, this.#lock, this.#facts, payload, checkDuration(options.timeout, 'timeout', DEFAULT_WRITE_TIMEOUT));
  }

  async #publishAsync(payload: ArrayBufferView | null, options: WriteAsyncOptions): Promise<void> {
    const timeout = checkDuration(options.timeout, 'timeout', DEFAULT_WRITE_TIMEOUT);
    const signal = checkSignal(options.signal);
    await publishFrameAsync(() => this.#open(), this.#lock, this.#facts, payload, { timeout, signal });
  }

  #readLive(native: NativeStream): ArrayForDtype[D] {
    // The guard may have replaced a truncated payload with zeros: they are no frame.
    throwIfPayloadLost(this.#facts);
    this.#checkLockForLiveRead();
    this.#liveView ??= new this.#header.dtype.ArrayType(dataBufferOf(native, this.#header.size, this.name, 'a live view'), 0, this.#elements()) as ArrayForDtype[D];
    this.#observe(this.#field(Field.count));
    return this.#liveView;
  }

  #observe(count: number): void {
    const missed = Math.max(0, count - this.#lastReadCount - 1);
    this.#missedWrites = missed;
    this.#totalMissedWrites += missed;
    this.#lastReadCount = count;
  }

  #elements(): number {
    return this.#header.size / this.#header.dtype.itemSize;
  }

  #allocate(): ArrayForDtype[D] {
    // Uninitialised memory: every byte is overwritten by the copy.
    return new this.#header.dtype.ArrayType(Buffer.allocUnsafeSlow(this.#header.size).buffer, 0, this.#elements()) as ArrayForDtype[D];
  }

  #checkLockForLiveRead(): void {
    if (this.#lock.held) return;
    throw new ShmError(
      'ERR_LOCK_NOT_HELD',
      `read({ safe: false }) returns the live payload and requires holding the lock of stream ${JSON.stringify(this.#name)}: ` +
        'call acquire() first, or use lock() / locked()',
    );
  }

  /** A wait's read options, checked before it waits, so that a write is never taken for a read that would refuse it. */
  #checkReadAfterWait(options: ReadOptions<ArrayForDtype[D]>): void {
    const { safe, out } = readOptions(options);
    if (out !== undefined) this.#checkOut(out);
    if (!safe) this.#checkLockForLiveRead();
  }

  #checkOut(out: unknown): ArrayForDtype[D] {
    const { ArrayType, name } = this.#header.dtype;
    if (out instanceof ArrayType && out.length === this.#elements()) return out as ArrayForDtype[D];
    const received = ArrayBuffer.isView(out) ? `a ${out.constructor.name} of ${(out as unknown as ArrayLike<unknown>).length} elements` : describeValue(out);
    throw invalidArgType(
      `read({ out }) needs a ${ArrayType.name} of ${this.#elements()} elements (dtype ${name}, shape ${formatShape(this.#header.shape)}), received ${received}`,
    );
  }

  #checkCpuReadable(): void {
    if (this.#header.gpuEnabled && !this.#header.cpuMirror) throw this.#gpuError('its payload');
  }

  #checkCpuWritable(): void {
    if (this.#header.gpuEnabled) throw this.#gpuError('a write');
  }

  #gpuError(what: string): ShmError {
    const device = this.#gpuDevice();
    return new ShmError(
      'ERR_GPU_UNAVAILABLE',
      `stream ${JSON.stringify(this.#name)} is a GPU stream on ${device}; ${what} needs a GPU attachment: reopen it with ` +
        `open(${JSON.stringify(this.#name)}, { gpuDevice: '${device}' }) where gpuAvailable() is true (this build has no GPU support)`,
    );
  }

}

/** read()'s options, checked, with their defaults. */
export function readOptions<A>(options: ReadOptions<A> | undefined): { safe: boolean; out: A | undefined; allowInterrupted: boolean; timeout: number } {
  const checked = checkOptions(options, 'read(options)');
  return {
    safe: checkBoolean(checked.safe, 'safe', true),
    out: checked.out,
    allowInterrupted: checkBoolean(checked.allowInterrupted, 'allowInterrupted', false),
    timeout: checkDuration(checked.timeout, 'timeout', DEFAULT_READ_TIMEOUT),
  };
}
