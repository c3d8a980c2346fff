/**
 * The native addon (src/native/*.cc), loaded with node-gyp-build so that
 * prebuilds can ship later. Typed here; mechanisms only, no policy.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Byte offsets of tsshmem's waiting words in the metadata object. */
export interface ExtensionLayout {
  readonly notifyWord: number;
  readonly wakeWaiting: number;
  readonly wakeSlots: number;
  readonly wakeSlotCount: number;
}

/** The mapped segments of one handle; see src/native/stream.h. */
export interface NativeStream {
  metaBuffer(): ArrayBuffer;
  dataBuffer(): ArrayBuffer;
  /**
   * 1: published; 0: the lock is held elsewhere, nothing written; -3: the data
   * segment was truncated (nothing published); -4: the count or sequence is
   * not a valid integer (nothing written). lockFd -1: the caller holds the lock.
   * write and read are functions bound to the stream, not methods: they need
   * no `this`, and throw once the stream is closed.
   */
  readonly write: (source: ArrayBufferView | null, lockFd: number) => number;
  /**
   * The count of the copied write, or after budgetMs -1 (sequence stuck odd),
   * -2 (never stable); -3: truncated; -4: count or sequence not a valid integer.
   */
  readonly read: (destination: ArrayBufferView, budgetMs: number) => number;
  /** A plain copy ignoring the sequence; false if the data segment was truncated. */
  copyPayload(destination: ArrayBufferView): boolean;
  repairSequence(): boolean;
  /** New count, -1 on timeout, -4 if the count is not a valid integer; blocks the calling thread. */
  waitSync(lastCount: number, timeoutMs: number, spinUs: number): number;
  /**
   * The new count now, or undefined and later callback(new count | -1
   * timeout | -2 cancelled), run by this thread's event loop; -4 (now or
   * later) if the count is not a valid integer.
   */
  waitAsync(lastCount: number, timeoutMs: number, spinUs: number, callback: (result: number) => void): number | undefined;
  /** Settles a pending wait with -2 now. */
  cancelWait(): void;
  /**
   * The lock file's descriptor and directory: asynchronous waits use them to
   * notice pyshmem writers. Before the first wait; the descriptor must stay
   * open until close().
   */
  useLockFile(fd: number, directory: string): void;
  close(): void;
}

/** What NativeRing's constructor needs: src/format/ring.ts nativeRingLayout(). */
export interface NativeRingLayout extends ExtensionLayout {
  readonly controlOffset: number;
  readonly slots: number;
  readonly stride: number;
  readonly slotsOffset: number;
  readonly frameBytes: number;
  readonly readers: number;
  readonly block: boolean;
  readonly pyshmemFrame: boolean;
}

/**
 * One handle's side of a ring stream; see src/native/ring/ring_binding.h.
 * Results are ringStatus numbers; a frame's details land in the info array
 * given to the constructor ([count, writeTime, ring index, meta count, hold]).
 * close() before the NativeStream's close().
 */
export interface NativeRing {
  /** Loan + copy (zeros for null) + publish. lockFd -1: the caller holds the lock. timeoutMs < 0: no limit. */
  write(source: ArrayBufferView | null, lockFd: number, timeoutMs: number): number;
  /** The caller holds the lock. An ArrayBuffer over the loaned slot, or a status. */
  loan(timeoutMs: number): ArrayBuffer | number;
  publish(): number;
  abandon(): void;
  take(destination: ArrayBufferView, lastCount: number): number;
  takeSample(lastCount: number): ArrayBuffer | number;
  newest(destination: ArrayBufferView): number;
  releaseSample(hold: number): void;
  cursor(): number;
  /** Frame `index` copied, if the ring still holds it. */
  copyFrame(index: number, destination: ArrayBufferView): number;
  /** true if the handle has an entry in the reader table. */
  register(): boolean;
  close(): void;
}

export interface RingStatusCodes {
  readonly FRAME: number;
  readonly NOTHING: number;
  readonly LOCK_BUSY: number;
  readonly BLOCKED: number;
  readonly HOLD_LIMIT: number;
  readonly NO_READER_ENTRY: number;
  readonly TRUNCATED: number;
  readonly CORRUPT: number;
}

export interface NativeBinding {
  shmCreate(name: string, size: number, mode: number): number;
  shmOpen(name: string): number;
  /** Closes a descriptor from shmCreate or shmOpen. */
  shmClose(fd: number): void;
  shmUnlink(name: string): boolean;
  /** Opens (creating) a lock file; the descriptor is closed at the thread's teardown if not before. */
  lockFileOpen(path: string): number;
  lockFileClose(fd: number): void;
  flockTry(fd: number): boolean;
  flockWait(fd: number): void;
  /** true once taken; false after timeoutMs. Back-to-back tries first, then sleeps up to maxPollMs. */
  flockTimed(fd: number, timeoutMs: number, maxPollMs: number): boolean;
  flockRelease(fd: number): void;
  NativeStream: new (
    metaFd: number,
    metaLength: number,
    dataFd: number,
    dataLength: number,
    payloadBytes: number,
    extension: ExtensionLayout | null,
  ) => NativeStream;
  NativeRing: new (metaBuffer: ArrayBuffer, dataBuffer: ArrayBuffer, layout: NativeRingLayout, info: Float64Array) => NativeRing;
  ringStatus: RingStatusCodes;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const load = createRequire(import.meta.url)('node-gyp-build') as (root: string) => unknown;

export const native = load(packageRoot) as NativeBinding;
