/**
 * The cross-process write lock of a stream (docs/format.md, "The lock" and "Writing"): flock(2)
 * on `<tmp>/pyshmem-locks/<base>.lock`. As in pyshmem, one descriptor per
 * lock path per thread of JavaScript (module state is per isolate, so each
 * worker thread has its own and threads exclude each other), re-entrant
 * inside it. The native protocol records the owner pid and depth in the
 * metadata at every take, re-entry and release (lockEnter, lockLeave); this
 * module decides when.
 */
import { lstatSync, mkdirSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { AbortError, ShmError, systemCode } from '../errors.js';
import { Field } from '../format/metadata.js';
import { native, Status, type NativeStream } from '../native/binding.js';
import { statusError, throwIfMetadataLost, type StreamFacts } from './frame-io.js';
import { checkDuration } from './options.js';

export interface AcquireOptions {
  /** Milliseconds to wait for the lock; default Infinity (wait until free). */
  readonly timeout?: number;
  /**
   * Milliseconds between tries while another process holds the lock; default 1.
   * acquireSync() tries back to back at first and backs off up to this.
   */
  readonly pollInterval?: number;
  /** Cancels an asynchronous acquire with an AbortError. */
  readonly signal?: AbortSignal;
}

const ROOT_UID = 0;
const GROUP_OR_OTHER_WRITABLE = 0o022;
const STICKY = 0o1000;
const USE_PRIVATE_TMPDIR = 'or use a private lock directory: set TMPDIR to a directory of your own (tsshmem and pyshmem both put their locks in $TMPDIR/pyshmem-locks)';

/**
 * Creates the lock directory if missing (0755 before the umask) and refuses,
 * with EACCES, one that another user could use to replace our lock files: a
 * symlink or not a directory, owned by another user than us or root, or
 * writable by group or others without the sticky bit.
 */
function checkLockDirectory(directory: string): void {
  let status = lstatOrNull(directory);
  if (status === null) {
    mkdirSync(directory, { recursive: true, mode: 0o755 });
    status = lstatSync(directory);
  }
  if (status.isSymbolicLink() || !status.isDirectory()) {
    throw new ShmError('EACCES', `the lock directory ${directory} is ${status.isSymbolicLink() ? 'a symlink' : 'not a directory'}: remove it and retry`);
  }
  const ownUid = process.getuid?.();
  if (ownUid !== undefined && status.uid !== ownUid && status.uid !== ROOT_UID) {
    throw new ShmError('EACCES', `the lock directory ${directory} belongs to another user (uid ${status.uid}), who could replace its lock files: ${USE_PRIVATE_TMPDIR}`);
  }
  if ((status.mode & GROUP_OR_OTHER_WRITABLE) !== 0 && (status.mode & STICKY) === 0) {
    throw new ShmError(
      'EACCES',
      `the lock directory ${directory} is writable by ${(status.mode & 0o002) !== 0 ? 'everyone' : 'its group'} without the sticky bit, so others could replace its lock files: chmod +t or go-w it, ${USE_PRIVATE_TMPDIR}`,
    );
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    if (systemCode(error) === 'ENOENT') return null;
    throw error;
  }
}

function openNoFollow(path: string): number {
  try {
    return native.lockFileOpen(path);
  } catch (error) {
    if (systemCode(error) === 'ELOOP') {
      throw new ShmError('EACCES', `the lock file ${path} is a symlink: tsshmem does not follow it; remove it and retry`, { cause: error });
    }
    throw error;
  }
}

export interface LockInfo {
  /** Some process (or this thread) holds the flock now. */
  readonly locked: boolean;
  /** The holder's pid as recorded in the metadata; null when free or not recorded. */
  readonly ownerPid: number | null;
  readonly heldByThisThread: boolean;
}

interface LockFile {
  readonly fd: number;
  depth: number;
  users: number;
}

const lockFiles = new Map<string, LockFile>();

/** Drops one use of a lock file; the last use closes its descriptor (releasing any flock). */
function dropUse(path: string, file: LockFile): void {
  file.users--;
  if (file.users > 0) return;
  lockFiles.delete(path);
  native.lockFileClose(file.fd);
}

/** Handles collected without close() still give back their use of the lock file. */
const collected = new FinalizationRegistry<{ path: string; file: LockFile }>(({ path, file }) => dropUse(path, file));
const DEFAULT_POLL_INTERVAL = 1;

/**
 * Opens (or shares) the lock file of path, creating its directory; refuses
 * symlinks. mode: the permission bits a creator gives the file (so a 0600
 * stream's lock cannot be taken by other users); ignored where we are not the
 * file's owner.
 */
function openLockFile(path: string, mode: number | undefined): LockFile {
  const existing = lockFiles.get(path);
  if (existing !== undefined) {
    existing.users++;
    return existing;
  }
  checkLockDirectory(dirname(path));
  const file = { fd: openNoFollow(path), depth: 0, users: 1 };
  if (mode !== undefined && native.fdStatus(file.fd).uid === process.getuid?.()) native.fdChmod(file.fd, mode);
  lockFiles.set(path, file);
  return file;
}

export class StreamLock {
  readonly #path: string;
  readonly #file: LockFile;
  readonly #native: NativeStream;
  readonly #stream: StreamFacts;
  readonly #checkOpen: () => void;
  #claimed = false;
  /** Entries taken through this handle and not yet released through it: what its close() gives back. */
  #entries = 0;
  #closed = false;

  /**
   * native: the handle's mapped stream, through which the owner record is
   * kept. checkOpen: the handle's check (and error) for a closed handle, made
   * on each pass of an asynchronous wait.
   */
  constructor(path: string, native: NativeStream, stream: StreamFacts, checkOpen: () => void, mode?: number) {
    this.#path = path;
    this.#file = openLockFile(path, mode);
    collected.register(this, { path, file: this.#file }, this);
    this.#native = native;
    this.#stream = stream;
    this.#checkOpen = checkOpen;
  }

  get held(): boolean {
    return this.#file.depth > 0;
  }

  /** The lock file's descriptor, for a native write that takes the lock itself. */
  get fd(): number {
    return this.#file.fd;
  }

  /**
   * Whether the next release() is the last entry's, which gives the flock
   * back (not the claimed writer's): a native call may then release the
   * flock itself, followed by releasedNatively() instead of release().
   */
  get lastEntry(): boolean {
    return this.#file.depth === 1 && !this.#claimed;
  }

  /** Records the first entry after a native call took the flock (and the owner record) itself on fd while !held. */
  enteredNatively(): void {
    this.#file.depth = 1;
    this.#entries++;
  }

  /** Records the last entry's release after a native call gave the flock (and the owner record) back itself while lastEntry. */
  releasedNatively(): void {
    this.#file.depth = 0;
    if (this.#entries > 0) this.#entries--;
  }

  /** Takes the lock if it is free (or already ours); never waits. */
  tryAcquire(): boolean {
    return this.#counted(this.#enter(0, DEFAULT_POLL_INTERVAL));
  }

  /** Blocks the calling thread until the lock is taken or timeout passes. */
  acquireSync(options: AcquireOptions = {}): void {
    const { timeout, pollInterval } = lockTimings(options);
    if (this.tryAcquireFor(timeout, pollInterval)) return;
    throw statusError(Status.LOCK_BUSY, this.#stream, { timeout });
  }

  /** Blocks up to timeout ms for the lock; false if it stayed held elsewhere. */
  tryAcquireFor(timeout: number, pollInterval = DEFAULT_POLL_INTERVAL): boolean {
    return this.tryAcquire() || this.#counted(this.#enter(timeout === Infinity ? -1 : timeout, pollInterval));
  }

  /** Waits without blocking the event loop, polling every pollInterval ms. */
  async acquire(options: AcquireOptions = {}): Promise<void> {
    const { timeout, pollInterval } = lockTimings(options);
    const { signal } = options;
    const deadline = performance.now() + timeout;
    for (;;) {
      if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
      this.#checkOpen();
      if (this.tryAcquire()) return;
      const left = deadline - performance.now();
      if (left <= 0) throw statusError(Status.LOCK_BUSY, this.#stream, { timeout });
      await delay(Math.min(pollInterval, left), undefined, { signal }).catch((error: unknown) => {
        throw new AbortError(undefined, { cause: signal?.reason ?? error });
      });
    }
  }

  /**
   * Takes the lock now and keeps it until close() (the single-writer role):
   * writes then need no system call. Fails with EBUSY if another holds it.
   */
  claim(): void {
    if (this.#claimed) return;
    if (!this.#enter(0, DEFAULT_POLL_INTERVAL)) throw statusError(Status.LOCK_BUSY, this.#stream, { claiming: true });
    this.#claimed = true;
  }

  /**
   * Releases one entry. After close() it does nothing: close() gave back
   * this handle's entries already (so a locked() or lock() whose handle
   * closed inside it settles without error).
   */
  release(): void {
    if (this.#closed) return;
    if (this.#file.depth === this.#claimFloor()) {
      throw new ShmError(
        'ERR_LOCK_NOT_HELD',
        `cannot release the lock of stream ${JSON.stringify(this.#stream.name)}: it is unlocked (release() without acquire())`,
      );
    }
    this.#leave();
    if (this.#entries > 0) this.#entries--;
  }

  /**
   * Whether any process holds the lock now, and which. A free lock whose
   * metadata still names an owner (a holder that died) has that record reset.
   */
  inspect(): LockInfo {
    if (this.held) return { locked: true, ownerPid: process.pid, heldByThisThread: true };
    if (this.tryAcquire()) {
      this.release();
      return { locked: false, ownerPid: null, heldByThisThread: false };
    }
    const ownerPid = this.#stream.meta[Field.lockOwnerPid] || null;
    throwIfMetadataLost(this.#stream);
    return { locked: true, ownerPid, heldByThisThread: false };
  }

  /**
   * Gives up what this handle holds while its metadata is still mapped: the
   * claimed writer role, the entries taken through it (those another handle
   * of this thread took stay held), and, if this is the thread's last handle
   * on the lock file, any hold left unreleased (with its owner record).
   */
  releaseHeld(): void {
    if (this.#claimed) {
      this.#claimed = false;
      this.#leave();
    }
    for (; this.#entries > 0 && this.#file.depth > this.#claimFloor(); this.#entries--) this.#leave();
    this.#entries = 0;
    if (this.#file.users === 1 && this.#file.depth > 0) {
      this.#file.depth = 0;
      this.#native.lockLeave(this.#file.fd, 0);
    }
  }

  /** Drops this handle's use of the lock file (after releaseHeld()); the last user closes it. */
  close(): void {
    this.#closed = true;
    collected.unregister(this);
    dropUse(this.#path, this.#file);
  }

  /** The depth below which release() finds the lock unlocked: the claimed writer's entry is not released. */
  #claimFloor(): number {
    return this.#claimed ? 1 : 0;
  }

  /** Leaves one level of the thread's depth; the depth is lowered once the native leave succeeded. */
  #leave(): void {
    const depth = this.#file.depth - 1;
    this.#native.lockLeave(this.#file.fd, depth);
    this.#file.depth = depth;
  }

  /** Counts an entry taken through this handle. */
  #counted(entered: boolean): boolean {
    if (entered) this.#entries++;
    return entered;
  }

  /** Enters the lock once more: takes the flock on first entry (timeoutMs 0: one try, -1: no limit). */
  #enter(timeoutMs: number, pollInterval: number): boolean {
    const depth = this.#file.depth + 1;
    const status = this.#native.lockEnter(this.#file.fd, depth, timeoutMs, pollInterval);
    if (status === Status.LOCK_BUSY) return false;
    if (status !== Status.LOCK_TAKEN) throw statusError(status, this.#stream);
    this.#file.depth = depth;
    return true;
  }
}

function lockTimings(options: AcquireOptions): { timeout: number; pollInterval: number } {
  return {
    timeout: checkDuration(options.timeout, 'timeout', Infinity),
    pollInterval: checkDuration(options.pollInterval, 'pollInterval', DEFAULT_POLL_INTERVAL, { positive: true }),
  };
}
