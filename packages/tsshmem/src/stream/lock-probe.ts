/**
 * Whether some process holds a stream's lock, asked without becoming its
 * owner and without creating the lock file: for tools that look at streams
 * they have not opened (tsshmem ls, info, clean).
 */
import { closeSync, constants, openSync } from 'node:fs';

import { systemCode } from '../errors.js';
import { native } from '../native/binding.js';

export interface LockProbe {
  readonly fileExists: boolean;
  /** Whether some process holds the flock now; null if it could not be tested. */
  readonly held: boolean | null;
}

/**
 * Tests the flock with LOCK_EX | LOCK_NB on a read-only descriptor and
 * releases it at once; a missing lock file is not created (nobody can hold
 * it). Never blocks on a planted FIFO, never follows a planted symlink.
 */
export function probeLockFile(path: string): LockProbe {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    return systemCode(error) === 'ENOENT' ? { fileExists: false, held: false } : { fileExists: true, held: null };
  }
  try {
    if (!native.flockTry(fd)) return { fileExists: true, held: true };
    native.flockRelease(fd);
    return { fileExists: true, held: false };
  } catch {
    return { fileExists: true, held: null };
  } finally {
    closeSync(fd);
  }
}
