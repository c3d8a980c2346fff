/**
 * The shm objects and lock file behind a stream: creating them without
 * leaving half a stream behind, opening and validating them (they may be
 * foreign, half-created or hostile), and removing them.
 */
import { readSync, rmSync } from 'node:fs';

import { ShmError, systemCode } from '../errors.js';
import { EXTENDED_METADATA_BYTES, hasExtension, NATIVE_EXTENSION_LAYOUT, writeExtension } from '../format/extension.js';
import { decodeHeader, encodeNewHeader, METADATA_BYTES, type StreamHeader } from '../format/metadata.js';
import type { StreamLocation } from '../format/names.js';
import { native, type NativeStream } from '../native/binding.js';

/** How long open() waits for a creator that is still filling in the metadata. */
const OPEN_SETTLE_MS = 1000;
const OPEN_RETRY_MS = 2;

export interface OpenedSegments {
  readonly header: StreamHeader;
  readonly native: NativeStream;
}

export function createSegments(location: StreamLocation, header: StreamHeader, mode: number): NativeStream {
  const name = location.label;
  const metaFd = createObject(name, location.meta, EXTENDED_METADATA_BYTES, mode);
  let dataFd = -1;
  try {
    dataFd = createObject(name, location.data, header.size, mode);
    const stream = new native.NativeStream(metaFd, EXTENDED_METADATA_BYTES, dataFd, header.size, header.size, NATIVE_EXTENSION_LAYOUT);
    writeExtension(new Uint8Array(stream.metaBuffer()), name);
    encodeNewHeader(new Float64Array(stream.metaBuffer(), 0, 32), header);
    return stream;
  } catch (error) {
    native.shmUnlink(location.meta);
    if (dataFd >= 0) native.shmUnlink(location.data);
    throw error;
  } finally {
    native.closeFd(metaFd);
    if (dataFd >= 0) native.closeFd(dataFd);
  }
}

function createObject(name: string, object: string, size: number, mode: number): number {
  try {
    return native.shmCreate(object, size, mode);
  } catch (error) {
    if (systemCode(error) === 'EEXIST') {
      throw new ShmError(
        'EEXIST',
        `stream ${JSON.stringify(name)} already exists: use open(${JSON.stringify(name)}) to attach to it, or unlink(${JSON.stringify(name)}) first`,
        { cause: error },
      );
    }
    throw segmentError(name, error);
  }
}

/**
 * Opens and validates a stream. A metadata block that is not initialised or
 * not yet consistent, or a data object not yet there, may belong to a creator
 * still at work: open() retries for up to OPEN_SETTLE_MS before reporting it.
 */
export function openSegments(location: StreamLocation): OpenedSegments {
  const deadline = performance.now() + OPEN_SETTLE_MS;
  for (;;) {
    const attempt = tryOpen(location);
    if (!('retry' in attempt)) return attempt;
    if (performance.now() >= deadline) throw attempt.retry;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, OPEN_RETRY_MS);
  }
}

function tryOpen(location: StreamLocation): OpenedSegments | { retry: Error } {
  const name = location.label;
  const metaFd = openObject(name, location.meta);
  let dataFd = -1;
  try {
    const metaStat = native.fdStat(metaFd);
    if (!metaStat.isFile) throw invalidStream(name, 'its metadata object is not a regular file');
    if (metaStat.size < METADATA_BYTES) {
      return { retry: invalidStream(name, `its metadata object is ${metaStat.size} bytes, shorter than ${METADATA_BYTES}`) };
    }
    const metaBytes = Buffer.alloc(Math.min(metaStat.size, EXTENDED_METADATA_BYTES));
    readSync(metaFd, metaBytes, 0, metaBytes.length, 0);
    const decoded = decodeHeader(new Float64Array(metaBytes.buffer, metaBytes.byteOffset, 32));
    if (!decoded.ok) {
      const error = invalidStream(name, decoded.problem);
      if (decoded.final) throw error;
      return { retry: error };
    }
    const { header } = decoded;
    try {
      dataFd = native.shmOpen(location.data);
    } catch (error) {
      if (systemCode(error) === 'ENOENT') return { retry: missingStream(name, error) };
      throw segmentError(name, error);
    }
    const dataStat = native.fdStat(dataFd);
    if (!dataStat.isFile) throw invalidStream(name, 'its data object is not a regular file');
    if (dataStat.size < header.size) {
      throw invalidStream(name, `its data object is ${dataStat.size} bytes, shorter than the payload size ${header.size}`);
    }
    const stream = new native.NativeStream(
      metaFd,
      metaStat.size,
      dataFd,
      dataStat.size,
      header.size,
      hasExtension(metaBytes) ? NATIVE_EXTENSION_LAYOUT : null,
    );
    return { header, native: stream };
  } finally {
    native.closeFd(metaFd);
    if (dataFd >= 0) native.closeFd(dataFd);
  }
}

function openObject(name: string, object: string): number {
  try {
    return native.shmOpen(object);
  } catch (error) {
    if (systemCode(error) === 'ENOENT') throw missingStream(name, error);
    throw segmentError(name, error);
  }
}

/** Removes every object of the stream; true if any existed. */
/** Removes every object of the stream, even past one that cannot be removed; true if any existed. */
export function unlinkStream(location: StreamLocation): boolean {
  let removed = false;
  let firstError: unknown;
  for (const object of [location.data, location.meta, location.gpu]) {
    try {
      removed = native.shmUnlink(object) || removed;
    } catch (error) {
      firstError ??= error;
    }
  }
  rmSync(location.lockPath, { force: true });
  if (firstError !== undefined) throw segmentError(location.label, firstError);
  return removed;
}

function missingStream(name: string, cause: unknown): ShmError {
  return new ShmError(
    'ENOENT',
    `stream ${JSON.stringify(name)} does not exist: create it with create(${JSON.stringify(name)}, { shape, dtype })`,
    { cause },
  );
}

function invalidStream(name: string, problem: string): ShmError {
  return new ShmError('ERR_INVALID_STREAM', `stream ${JSON.stringify(name)} is not a valid pyshmem stream: ${problem}`);
}

function segmentError(name: string, error: unknown): Error {
  const code = systemCode(error);
  if (code === 'EACCES' || code === 'EPERM') {
    return new ShmError('EACCES', `permission denied on stream ${JSON.stringify(name)}: it belongs to another user`, { cause: error });
  }
  if (code === 'ELOOP' || code === 'EISDIR' || code === 'EINVAL') {
    return invalidStream(name, `its shared-memory object is not a regular file (${code})`);
  }
  return error instanceof Error ? error : new Error(String(error));
}
