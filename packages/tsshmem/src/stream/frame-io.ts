/**
 * Frames in and out of a stream, on top of the native protocol
 * (src/native/protocol/frame_protocol.h): the one place that turns the
 * addon's statuses (native.Status) into errors, and that decides when a read
 * stops trying lock-free and takes the lock.
 */
import { AbortError, ShmError } from '../errors.js';
import { Field } from '../format/metadata.js';
import { Lost, Status, type NativeStream } from '../native/binding.js';
import type { StreamLock } from './lock.js';

/** How long a safe read retries lock-free before it takes the lock for one copy. */
const CONTENDED_READ_MS = 0.2;
/** While the lock stays taken, a read alternates lock tries and lock-free tries this long each. */
const INTERRUPTION_CHECK_MS = 10;

/**
 * What error messages say about a stream: its name, its live metadata, and
 * its lost word (native.Lost bits: a truncation took the pages of a mapping).
 */
export interface StreamFacts {
  readonly name: string;
  readonly meta: Float64Array;
  readonly lost: Int32Array;
}

/** Throws METADATA_LOST's error once another process truncated the metadata object: its fields read as zeros since. */
export function throwIfMetadataLost(stream: StreamFacts): void {
  if ((stream.lost[0]! & Lost.METADATA) !== 0) throw statusError(Status.METADATA_LOST, stream);
}

/** Also throws TRUNCATED's error once the payload is known gone: for what would read it (a wait, a live view). */
export function throwIfPayloadLost(stream: StreamFacts): void {
  throwIfMetadataLost(stream);
  if ((stream.lost[0]! & Lost.DATA) !== 0) throw statusError(Status.TRUNCATED, stream);
}

/** What an operation that ended in a status was waiting for, when it matters to the message. */
export interface StatusContext {
  /** The caller's timeout, for TIMED_OUT, WRITER_STUCK, NEVER_STABLE and LOCK_BUSY. */
  readonly timeout?: number;
  /** The signal whose abort gave CANCELLED. */
  readonly signal?: AbortSignal | undefined;
  /** LOCK_BUSY when claiming the writer role (EBUSY) rather than after a timeout. */
  readonly claiming?: boolean;
}

/** true for a count (>= 0), false for a Status. */
export function isCount(result: number): boolean {
  return result >= 0;
}

/** The error a status stands for. */
export function statusError(status: number, stream: StreamFacts, context: StatusContext = {}): Error {
  const name = JSON.stringify(stream.name);
  const { meta } = stream;
  const owner = meta[Field.lockOwnerPid];
  switch (status) {
    case Status.METADATA_LOST:
      return new ShmError(
        'ERR_INVALID_STREAM',
        `the metadata object of stream ${name} was truncated by another process after this handle opened it: ` +
          'its count, sequence and lock record are gone; close this handle, and unlink and recreate the stream',
      );
    case Status.TRUNCATED:
      return new ShmError(
        'ERR_INVALID_STREAM',
        `the data segment of stream ${name} was truncated by another process after this handle opened it: ` +
          'its payload is gone; close this handle, and unlink and recreate the stream',
      );
    case Status.CORRUPT:
      return new ShmError(
        'ERR_INVALID_STREAM',
        `the metadata of stream ${name} no longer holds a valid count and write sequence ` +
          `(count ${meta[Field.count]}, sequence ${meta[Field.writeSequence]}): another process corrupted it; ` +
          'unlink and recreate the stream',
      );
    case Status.INTERRUPTED:
      return new ShmError(
        'ERR_WRITE_INTERRUPTED',
        `stream ${name} holds an interrupted write: a writer died mid-write (write sequence ` +
          `${meta[Field.writeSequence]} is odd and no process holds the lock). The next write repairs it; ` +
          'repair() restores it without writing; read({ allowInterrupted: true }) returns the payload as it is',
      );
    case Status.WRITER_STUCK:
    case Status.NEVER_STABLE:
      return new ShmError(
        'ETIMEDOUT',
        `read() of stream ${name} timed out after ${context.timeout} ms: a write in progress` +
          `${owner ? ` by pid ${owner}` : ''} did not finish (pass a longer timeout if writes are that slow)`,
      );
    case Status.TIMED_OUT:
      return new ShmError('ETIMEDOUT', `no new write to stream ${name} within ${context.timeout} ms`);
    case Status.CANCELLED:
      return new AbortError(undefined, { cause: context.signal?.reason });
    case Status.LOCK_BUSY:
      if (context.claiming) {
        return new ShmError('EBUSY', `cannot claim the writer role of stream ${name}: its lock is held${owner ? ` by pid ${owner}` : ''}`);
      }
      return new ShmError(
        'ETIMEDOUT',
        `timed out after ${context.timeout} ms waiting for the lock of stream ${name}${owner ? ` (held by pid ${owner})` : ''}`,
      );
    default:
      return new Error(`tsshmem: unexpected native status ${status} on stream ${name}`);
  }
}

/** The statuses that no retry can mend: thrown wherever they turn up. */
export function throwIfBroken(result: number, stream: StreamFacts): void {
  if (result === Status.TRUNCATED || result === Status.CORRUPT || result === Status.METADATA_LOST) throw statusError(result, stream);
}

/**
 * Publishes one frame (payload null: zeros) if that needs no wait: under the
 * lock this thread holds, or taking it for the write if it is free. false if
 * another holds it (nothing written).
 */
function publishIfLockFree(native: NativeStream, lock: StreamLock, stream: StreamFacts, payload: ArrayBufferView | null): boolean {
  const status = native.write(payload, lock.held ? -1 : lock.fd);
  if (status === Status.LOCK_BUSY) return false;
  if (status !== Status.PUBLISHED) throw statusError(status, stream);
  return true;
}

/** Publishes under the lock just taken, then releases it. */
function publishUnderLock(native: NativeStream, lock: StreamLock, stream: StreamFacts, payload: ArrayBufferView | null): void {
  let status: number;
  try {
    status = native.write(payload, -1);
  } finally {
    lock.release();
  }
  if (status !== Status.PUBLISHED) throw statusError(status, stream);
}

/**
 * Publishes one frame (payload null: zeros). If another holds the lock, waits
 * up to timeout for it, blocking the thread, and writes under it.
 */
export function publishFrame(native: NativeStream, lock: StreamLock, stream: StreamFacts, payload: ArrayBufferView | null, timeout: number): void {
  if (publishIfLockFree(native, lock, stream, payload)) return;
  lock.acquireSync({ timeout });
  publishUnderLock(native, lock, stream, payload);
}

/**
 * publishFrame without blocking: if another holds the lock, waits for it as
 * acquire() does (polling, timeout, signal) and writes once it is taken.
 * native: called again after the wait, so that a handle closed meanwhile is
 * refused.
 */
export async function publishFrameAsync(
  native: () => NativeStream,
  lock: StreamLock,
  stream: StreamFacts,
  payload: ArrayBufferView | null,
  options: { timeout: number; signal: AbortSignal | undefined },
): Promise<void> {
  if (options.signal?.aborted) throw new AbortError(undefined, { cause: options.signal.reason });
  if (publishIfLockFree(native(), lock, stream, payload)) return;
  await lock.acquire(options);
  let current: NativeStream;
  try {
    current = native();
  } catch (error) {
    lock.release();
    throw error;
  }
  publishUnderLock(current, lock, stream, payload);
}

/**
 * A consistent copy (seqlock) into destination; returns its count. If no
 * stable copy comes within CONTENDED_READ_MS (a writer publishing back to
 * back) the read takes the lock for one copy, so readers cannot starve; a
 * lock that stays taken (a frozen or exclusive writer) makes it alternate
 * lock tries and lock-free tries until timeout.
 */
export function readFrame(
  native: NativeStream,
  lock: StreamLock,
  stream: StreamFacts,
  destination: ArrayBufferView,
  timeout: number,
  allowInterrupted: boolean,
): number {
  const count = native.read(destination, Math.min(CONTENDED_READ_MS, timeout));
  if (isCount(count)) return count;
  throwIfBroken(count, stream);
  const deadline = performance.now() + timeout;
  for (;;) {
    const slice = Math.max(0, Math.min(INTERRUPTION_CHECK_MS, deadline - performance.now()));
    if (lock.tryAcquireFor(slice)) {
      let locked: number;
      try {
        locked = native.readLocked(destination, allowInterrupted);
      } finally {
        lock.release();
      }
      if (isCount(locked)) return locked;
      throw statusError(locked, stream);
    }
    const retried = native.read(destination, slice);
    if (isCount(retried)) return retried;
    throwIfBroken(retried, stream);
    if (performance.now() >= deadline) throw statusError(retried, stream, { timeout });
  }
}
