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

/**
 * The outcomes of native calls, declared once in src/native/protocol/status.h
 * and exported by the addon. All negative: a read or wait returns a count
 * (>= 0) or one of these.
 */
export interface StatusTable {
  readonly PUBLISHED: number;
  readonly LOCK_TAKEN: number;
  readonly LOCK_BUSY: number;
  readonly TRUNCATED: number;
  readonly CORRUPT: number;
  readonly WRITER_STUCK: number;
  readonly NEVER_STABLE: number;
  readonly INTERRUPTED: number;
  readonly TIMED_OUT: number;
  readonly CANCELLED: number;
  readonly METADATA_LOST: number;
  readonly SYSTEM_ERROR: number;
  /** Ring streams: a frame was taken ... */
  readonly FRAME: number;
  /** ... or the ring holds none newer than the reader's cursor. */
  readonly NOTHING_NEW: number;
  /** Block mode: a registered reader has no room yet, or every slot is held. */
  readonly NO_ROOM: number;
  /** This handle already holds 4 samples. */
  readonly HOLD_LIMIT: number;
  /** The reader table is full of live readers. */
  readonly NO_READER_ENTRY: number;
}

/** The bits of a stream's lost word (src/native/guard/mapping_registry.h). */
export interface LostTable {
  /** Another process truncated the metadata object after this handle mapped it. */
  readonly METADATA: number;
  /** ... or the data object. */
  readonly DATA: number;
}

/** How the waits (next(), readNewSync()) of one handle ended, counted. */
export interface WaitStats {
  /** Ended by a writer's wake: a byte on the handle's wake socket, or a futex wake. */
  readonly woken: number;
  /** Ended by a periodic re-check finding the new count (pyshmem writers wake nobody). */
  readonly rechecked: number;
  /** The new count was already there, or appeared while spinning. */
  readonly immediate: number;
  readonly timedOut: number;
  /** Cancelled by an AbortSignal or close(). */
  readonly cancelled: number;
}

/** The mapped segments of one handle; see src/native/stream.h. */
export interface NativeStream {
  metaBuffer(): ArrayBuffer;
  dataBuffer(): ArrayBuffer;
  /**
   * PUBLISHED, LOCK_BUSY (held elsewhere, nothing written), TRUNCATED or
   * CORRUPT. lockFd -1: the caller holds the lock. write, read, waitSync
   * and waitAsync are functions bound to the stream, not methods: they need
   * no `this`, and throw once the stream is closed.
   */
  readonly write: (source: ArrayBufferView | null, lockFd: number) => number;
  /** The count of the copied write, or WRITER_STUCK / NEVER_STABLE after budgetMs (< 0: none), TRUNCATED, CORRUPT. */
  readonly read: (destination: ArrayBufferView, budgetMs: number) => number;
  /** Under the lock: the count, or INTERRUPTED (odd sequence; copied anyway with allowInterrupted), TRUNCATED, CORRUPT. */
  readLocked(destination: ArrayBufferView, allowInterrupted: boolean): number;
  /** Under the lock: true if the sequence was odd and is now even. */
  repairSequence(): boolean;
  /**
   * depth 1 takes fd's flock: LOCK_TAKEN, or LOCK_BUSY after timeoutMs (0:
   * one try, -1: no limit), backing off up to maxPollMs; depth > 1 records a
   * re-entry. The owner pid and depth are recorded in the metadata.
   */
  lockEnter(fd: number, depth: number, timeoutMs: number, maxPollMs: number): number;
  /** Records the depth left; 0 clears the owner record and releases fd's flock. */
  lockLeave(fd: number, depth: number): void;
  /** The new count, TIMED_OUT or CORRUPT; blocks the calling thread. */
  readonly waitSync: (lastCount: number, timeoutMs: number, spinUs: number) => number;
  /**
   * The new count (or CORRUPT) now, or undefined and later callback(new
   * count | TIMED_OUT | CANCELLED | CORRUPT), run by this thread's event loop.
   */
  readonly waitAsync: (lastCount: number, timeoutMs: number, spinUs: number, callback: (result: number) => void) => number | undefined;
  /** Settles a pending wait with CANCELLED now. */
  cancelWait(): void;
  /** How this handle's waits ended (src/native/wake/wait_stats.h); works after close() too. */
  waitStats(): WaitStats;
  /** This stream's index in lostWords, or -1 if it is unguarded (the guard's registry was full). */
  guardEntry(): number;
  /**
   * The lock file's descriptor: waits use it to notice pyshmem writers.
   * Before the first wait; it must stay open until close().
   */
  useLockFile(fd: number): void;
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
 * Results are Status values (a slot's byte offset in the data object, >= 0,
 * for loan() and takeSample()); a frame's details land in the info array
 * given to the constructor ([count, writeTime, ring index, meta count, hold]).
 * close() before the NativeStream's close().
 */
export interface NativeRing {
  /** Loan + copy (zeros for null) + publish. lockFd -1: the caller holds the lock. timeoutMs < 0: no limit. */
  write(source: ArrayBufferView | null, lockFd: number, timeoutMs: number): number;
  /**
   * The loaned slot's byte offset in the data object (>= 0), or a Status.
   * lockFd >= 0: takes that flock itself (LOCK_BUSY if held elsewhere) and
   * keeps it for the loan; -1: the caller holds the lock.
   */
  loan(timeoutMs: number, lockFd: number): number;
  /** lockFd >= 0: gives that flock back after publishing; -1: the caller keeps it. */
  publish(lockFd: number): number;
  /** lockFd as for publish(). */
  abandon(lockFd: number): void;
  take(destination: ArrayBufferView, lastCount: number): number;
  /** The held slot's byte offset in the data object (>= 0), or a Status. */
  takeSample(lastCount: number): number;
  newest(destination: ArrayBufferView): number;
  releaseSample(hold: number): void;
  cursor(): number;
  /** Frame `index` copied, if the ring still holds it. */
  copyFrame(index: number, destination: ArrayBufferView): number;
  /** true if the handle has an entry in the reader table. */
  register(): boolean;
  close(): void;
}

export interface NativeBinding {
  readonly Status: StatusTable;
  readonly Lost: LostTable;
  /** Every guarded stream's lost word (Lost bits), set by the SIGBUS guard; static memory. */
  lostWords(): ArrayBuffer;
  shmCreate(name: string, size: number, mode: number): number;
  shmOpen(name: string): number;
  /** Closes a descriptor from shmCreate or shmOpen. */
  shmClose(fd: number): void;
  shmUnlink(name: string): boolean;
  /** Opens (creating) a lock file; the descriptor is closed at the thread's teardown if not before. */
  lockFileOpen(path: string): number;
  lockFileClose(fd: number): void;
  /** A bare probe for tools, recording no owner: true if the flock was free (and is now taken). */
  flockTry(fd: number): boolean;
  flockRelease(fd: number): void;
  /** fstat(2) of a descriptor the addon opened (node:fs cannot see them on Deno). */
  fdStatus(fd: number): { readonly regularFile: boolean; readonly size: number; readonly uid: number };
  fdChmod(fd: number, mode: number): void;
  /** pread(2) into destination from position; fewer bytes only at the end of the file. */
  fdRead(fd: number, destination: Uint8Array, position: number): number;
  /** Whether another open file description holds an OFD lock on those bytes of fd's file (a ring reader entry's liveness). */
  fdRangeLocked(fd: number, start: number, length: number): boolean;
  /** ring: keeps a descriptor of the metadata object for the stream's NativeRing (its readers' liveness locks). */
  NativeStream: new (
    metaFd: number,
    metaLength: number,
    dataFd: number,
    dataLength: number,
    payloadBytes: number,
    extension: ExtensionLayout | null,
    ring: boolean,
  ) => NativeStream;
  /** stream: the handle's NativeStream, made with ring: true; the ring takes its descriptor. */
  NativeRing: new (
    metaBuffer: ArrayBuffer,
    dataBuffer: ArrayBuffer,
    guardEntry: number,
    layout: NativeRingLayout,
    info: Float64Array,
    stream: NativeStream,
  ) => NativeRing;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const load = createRequire(import.meta.url)('node-gyp-build') as (root: string) => unknown;

export const native = load(packageRoot) as NativeBinding;
export const Status = native.Status;
export const Lost = native.Lost;

const lostWords = new Int32Array(native.lostWords());

/** A one-word view of stream's lost word: one load tells whether a truncation took its pages. */
export function lostWordOf(stream: NativeStream): Int32Array {
  const entry = stream.guardEntry();
  return entry < 0 ? new Int32Array(1) : lostWords.subarray(entry, entry + 1);
}
