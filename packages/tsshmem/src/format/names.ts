/**
 * Where a stream lives (docs/format.md, "Names" and "Objects that make up one
 * stream"): the hashed base name, the POSIX shm object names and the lock path.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';

import { describeValue, invalidArgType } from '../errors.js';

/**
 * Where a stream's objects are. `label` names the stream in messages: its
 * name, or its base name when only that is known (pyshmem stores no name).
 */
export interface StreamLocation {
  readonly label: string;
  /** `ps_` + 14 hex digits of SHA-1 of the name. */
  readonly base: string;
  /** POSIX shm object names. */
  readonly data: string;
  readonly meta: string;
  readonly gpu: string;
  readonly lockPath: string;
}

export function checkStreamName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw invalidArgType(`a stream name must be a non-empty string, received ${describeValue(name)}`);
  }
}

export function baseName(name: string): string {
  return 'ps_' + createHash('sha1').update(name, 'utf8').digest('hex').slice(0, 14);
}

export function locateByName(name: string): StreamLocation {
  return locate(name, baseName(name));
}

/** For a stream known only by its base name (as /dev/shm shows it). */
export function locateByBase(base: string): StreamLocation {
  return locate(base, base);
}

/** Suffixes of a stream's shm objects after its base name: data, metadata, GPU handle. */
export const ObjectSuffix = { data: '', meta: '_meta', gpu: '_gpu' } as const;

function locate(label: string, base: string): StreamLocation {
  return {
    label,
    base,
    data: `/${base}${ObjectSuffix.data}`,
    meta: `/${base}${ObjectSuffix.meta}`,
    gpu: `/${base}${ObjectSuffix.gpu}`,
    lockPath: join(lockDirectory(), `${base}.lock`),
  };
}

const BASE_NAME = /^ps_[0-9a-f]{14}$/;

/** True for `ps_` + 14 hex digits: the base name of a data object. */
export function isBaseName(entry: string): boolean {
  return BASE_NAME.test(entry);
}

/** The base name of a stream's data, metadata or GPU-handle object in /dev/shm; null for anything else. */
export function baseOfObject(entry: string): string | null {
  const suffix = [ObjectSuffix.meta, ObjectSuffix.gpu].find((candidate) => entry.endsWith(candidate)) ?? ObjectSuffix.data;
  const base = entry.slice(0, entry.length - suffix.length);
  return isBaseName(base) ? base : null;
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
  return locateByName(name).lockPath;
}
