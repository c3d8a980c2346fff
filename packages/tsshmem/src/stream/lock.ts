/**
 * The cross-process write lock of a stream (FORMAT.md, "Writing"): flock(2)
 * on `<tmp>/pyshmem-locks/<base>.lock`. As in pyshmem, one descriptor per
 * lock path per thread of JavaScript (module state is per isolate, so each
 * worker thread has its own and threads exclude each other), re-entrant
 * inside it, and the owner pid and depth recorded in the metadata.
 */
import { lstatSync, mkdirSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { AbortError, ShmError, systemCode } from '../errors.js';
import { Field } from '../format/metadata.js';
import { native } from '../native/binding.js';
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

/**
 * Creates the lock directory if missing and refuses one that is a symlink,
 * not a directory, or writable by others without the sticky bit (anyone
 * could then replace our lock files).
 */
function checkLockDirectory(directory: string): void {
  let status = lstatOrNull(directory);
  if (status === null) {
    mkdirSync(directory, { recursive: true });
    status = lstatSync(directory);
  }
  if (status.isSymbolicLink() || !status.isDirectory()) {
    throw new ShmError('EACCES', `the lock directory ${directory} is ${status.isSymbolicLink() ? 'a symlink' : 'not a directory'}: remove it and retry`);
  }
  if ((status.mode & 0o002) !== 0 && (status.mode & 0o1000) === 0) {
    throw new ShmError('EACCES', `the lock directory ${directory} is writable by everyone without the sticky bit: chmod +t it (or 0755) and retry`);
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
  readonly #meta: Float64Array;
  readonly #describe: string;
  #claimed = false;

  /** meta: the handle's live metadata view, where the owner pid and depth are recorded. */
  constructor(path: string, meta: Float64Array, describe: string, mode?: number) {
    this.#path = path;
    this.#file = openLockFile(path, mode);
    collected.register(this, { path, file: this.#file }, this);
    this.#meta = meta;
    this.#describe = describe;
  }

  get held(): boolean {
    return this.#file.depth > 0;
  }

  /** The lock file's descriptor, for a native write that takes the lock itself. */
  get fd(): number {
    return this.#file.fd;
  }

  /** Takes the lock if it is free (or already ours); never waits. */
  tryAcquire(): boolean {
    if (this.#file.depth === 0 && !native.flockTry(this.#file.fd)) return false;
    this.#enter();
    return true;
  }

  /** Blocks the calling thread until the lock is taken or timeout passes. */
  acquireSync(options: AcquireOptions = {}): void {
    const { timeout, pollInterval } = lockTimings(options);
    if (this.tryAcquireFor(timeout, pollInterval)) return;
    throw this.#timeoutError(timeout);
  }

  /** Blocks up to timeout ms for the lock; false if it stayed held elsewhere. */
  tryAcquireFor(timeout: number, pollInterval = DEFAULT_POLL_INTERVAL): boolean {
    if (this.tryAcquire()) return true;
    if (timeout === Infinity) native.flockWait(this.#file.fd);
    else if (!native.flockTimed(this.#file.fd, timeout, pollInterval)) return false;
    this.#enter();
    return true;
  }

  /** Waits without blocking the event loop, polling every pollInterval ms. */
  async acquire(options: AcquireOptions = {}): Promise<void> {
    const { timeout, pollInterval } = lockTimings(options);
    const { signal } = options;
    const deadline = performance.now() + timeout;
    for (;;) {
      if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
      if (this.tryAcquire()) return;
      const left = deadline - performance.now();
      if (left <= 0) throw this.#timeoutError(timeout);
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
    if (!this.tryAcquire()) {
      const owner = this.#meta[Field.lockOwnerPid];
      throw new ShmError('EBUSY', `cannot claim the writer role of ${this.#describe}: its lock is held${owner ? ` by pid ${owner}` : ''}`);
    }
    this.#claimed = true;
  }

  release(): void {
    if (this.#file.depth === (this.#claimed ? 1 : 0)) {
      throw new ShmError('ERR_LOCK_NOT_HELD', `cannot release the lock of ${this.#describe}: it is unlocked (release() without acquire())`);
    }
    this.#file.depth--;
    const meta = this.#meta;
    meta[Field.lockDepth] = this.#file.depth;
    if (this.#file.depth === 0) {
      meta[Field.lockOwnerPid] = 0;
      native.flockRelease(this.#file.fd);
    }
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
    return { locked: true, ownerPid: this.#meta[Field.lockOwnerPid] || null, heldByThisThread: false };
  }

  /** Drops this handle's use of the lock file; the last user closes it (releasing any flock). */
  close(): void {
    if (this.#claimed) {
      this.#claimed = false;
      this.release();
    }
    collected.unregister(this);
    if (this.#file.users === 1 && this.#file.depth > 0) {
      const meta = this.#meta;
      meta[Field.lockOwnerPid] = 0;
      meta[Field.lockDepth] = 0;
    }
    dropUse(this.#path, this.#file);
  }

  #enter(): void {
    this.#file.depth++;
    const meta = this.#meta;
    meta[Field.lockOwnerPid] = process.pid;
    meta[Field.lockDepth] = this.#file.depth;
  }

  #timeoutError(timeout: number): ShmError {
    const owner = this.#meta[Field.lockOwnerPid];
    const holder = owner ? ` (held by pid ${owner})` : '';
    return new ShmError('ETIMEDOUT', `timed out after ${timeout} ms waiting for the lock of ${this.#describe}${holder}`);
  }
}

function lockTimings(options: AcquireOptions): { timeout: number; pollInterval: number } {
  return {
    timeout: checkDuration(options.timeout, 'timeout', Infinity),
    pollInterval: checkDuration(options.pollInterval, 'pollInterval', DEFAULT_POLL_INTERVAL, { positive: true }),
  };
}
