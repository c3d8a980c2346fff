/**
 * Where a stream lives (FORMAT.md, "Names" and "Objects that make up one
 * stream"): the hashed base name, the POSIX shm object names and the lock path.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';

import { describeValue, invalidArgType } from '../errors.js';

export interface SegmentNames {
  /** `ps_` + 14 hex digits of SHA-1 of the name. */
  readonly base: string;
  readonly data: string;
  readonly meta: string;
  readonly gpu: string;
}

export function checkStreamName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw invalidArgType(`a stream name must be a non-empty string, received ${describeValue(name)}`);
  }
}

export function baseName(name: string): string {
  return 'ps_' + createHash('sha1').update(name, 'utf8').digest('hex').slice(0, 14);
}

export function segmentNames(name: string): SegmentNames {
  const base = baseName(name);
  return { base, data: `/${base}`, meta: `/${base}_meta`, gpu: `/${base}_gpu` };
}

/** True for `ps_` + 14 hex digits: the base name of a data object. */
export function isBaseName(entry: string): boolean {
  return /^ps_[0-9a-f]{14}$/.test(entry);
}

let tempDirectory: string | undefined;

/**
 * Python's `tempfile.gettempdir()`: the first usable of $TMPDIR, $TEMP, $TMP,
 * /tmp, /var/tmp, /usr/tmp, else the working directory. Computed once, as
 * Python caches it.
 */
export function pythonTempDirectory(): string {
  if (tempDirectory !== undefined) return tempDirectory;
  const candidates = [process.env.TMPDIR, process.env.TEMP, process.env.TMP, '/tmp', '/var/tmp', '/usr/tmp'];
  tempDirectory = candidates.find((dir): dir is string => dir !== undefined && dir !== '' && isUsableDirectory(dir)) ?? process.cwd();
  return tempDirectory;
}

function isUsableDirectory(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

export function lockDirectory(): string {
  return join(pythonTempDirectory(), 'pyshmem-locks');
}

export function lockPath(name: string): string {
  return join(lockDirectory(), `${baseName(name)}.lock`);
}
