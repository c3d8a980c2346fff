/**
 * The shm objects and lock file behind a stream: creating them without
 * leaving half a stream behind, opening and validating them (they may be
 * foreign, half-created or hostile), and removing them.
 */
import { unlinkSync } from 'node:fs';

import { ShmError, streamNotFound, systemCode } from '../errors.js';
import { EXTENDED_METADATA_BYTES, hasExtension, NATIVE_EXTENSION_LAYOUT, writeExtension } from '../format/extension.js';
import { decodeHeader, encodeNewHeader, METADATA_BYTES, METADATA_FIELDS, type StreamHeader } from '../format/metadata.js';
import type { StreamLocation } from '../format/names.js';
import { decodeRingControl, hasRingMagic, RING_CONTROL_OFFSET, RingControl, type RingGeometry, writeRingControl } from '../format/ring.js';
import { native, type NativeStream } from '../native/binding.js';

/** How long open() waits, by default, for a creator that is still filling in the metadata. */
export const DEFAULT_SETTLE_TIMEOUT = 1000;
const OPEN_RETRY_MS = 2;

export interface OpenedSegments {
  readonly header: StreamHeader;
  readonly native: NativeStream;
  /** The ring's layout on a ring stream (docs/format.md, Part 3), else null. */
  readonly ring: RingGeometry | null;
}

/** ring: the layout of a ring stream to create (its objects are larger), or null. */
export function createSegments(location: StreamLocation, header: StreamHeader, mode: number, ring: RingGeometry | null = null): NativeStream {
  const name = location.label;
  const metaBytes = ring?.metaBytes ?? EXTENDED_METADATA_BYTES;
  const dataBytes = ring?.dataBytes ?? header.size;
  const metaFd = createObject(name, location.meta, metaBytes, mode);
  let dataFd = -1;
  let stream: NativeStream | null = null;
  try {
    dataFd = createObject(name, location.data, dataBytes, mode);
    stream = new native.NativeStream(metaFd, metaBytes, dataFd, dataBytes, header.size, NATIVE_EXTENSION_LAYOUT, ring !== null);
    writeExtension(new Uint8Array(stream.metaBuffer()), name);
    if (ring !== null) writeRingControl(new Uint8Array(stream.metaBuffer()), ring);
    encodeNewHeader(new Float64Array(stream.metaBuffer(), 0, METADATA_FIELDS), header);
    return stream;
  } catch (error) {
    stream?.close();
    native.shmUnlink(location.meta);
    if (dataFd >= 0) native.shmUnlink(location.data);
    throw error;
  } finally {
    native.shmClose(metaFd);
    if (dataFd >= 0) native.shmClose(dataFd);
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
 * still at work: open() retries for up to settleTimeout ms before reporting
 * it (0: one attempt).
 */
export function openSegments(location: StreamLocation, settleTimeout = DEFAULT_SETTLE_TIMEOUT): OpenedSegments {
  const deadline = performance.now() + settleTimeout;
  for (;;) {
    const attempt = tryOpen(location);
    if (!('retry' in attempt)) return attempt;
    const left = deadline - performance.now();
    if (left <= 0) throw attempt.retry;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(OPEN_RETRY_MS, left));
  }
}

function tryOpen(location: StreamLocation): OpenedSegments | { retry: Error } {
  const name = location.label;
  const metaFd = openObject(name, location.meta);
  let dataFd = -1;
  try {
    const block = readMetadataBlock(metaFd);
    if ('problem' in block) {
      const error = invalidStream(name, block.problem);
      if (block.final) throw error;
      return { retry: error };
    }
    const decoded = decodeHeader(block.fields);
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
    const dataStat = native.fdStatus(dataFd);
    if (!dataStat.regularFile) throw invalidStream(name, 'its data object is not a regular file');
    if (dataStat.size < header.size) {
      throw invalidStream(name, `its data object is ${dataStat.size} bytes, shorter than the payload size ${header.size}`);
    }
    const ring = readRing(metaFd, block, header, dataStat.size);
    if ('problem' in ring) throw invalidStream(name, ring.problem);
    const stream = new native.NativeStream(
      metaFd,
      block.objectBytes,
      dataFd,
      dataStat.size,
      header.size,
      hasExtension(block.bytes) ? NATIVE_EXTENSION_LAYOUT : null,
      ring.ring !== null,
    );
    return { header, native: stream, ring: ring.ring };
  } finally {
    native.shmClose(metaFd);
    if (dataFd >= 0) native.shmClose(dataFd);
  }
}

export interface MetadataBlock {
  /** The first bytes of the object, up to the end of tsshmem's extension area. */
  readonly bytes: Buffer;
  /** The 32 float64 fields, a view of bytes. */
  readonly fields: Float64Array;
  /** The size of the whole metadata object. */
  readonly objectBytes: number;
}

/**
 * Reads a metadata object through fd, or says why it cannot hold a metadata
 * block. final: false where a creator still at work may yet fill it in.
 */
export function readMetadataBlock(fd: number): MetadataBlock | { problem: string; final: boolean } {
  const status = native.fdStatus(fd);
  if (!status.regularFile) return { problem: 'its metadata object is not a regular file', final: true };
  const bytes = Buffer.alloc(Math.min(status.size, EXTENDED_METADATA_BYTES));
  const length = native.fdRead(fd, bytes, 0);
  if (length < METADATA_BYTES) {
    return { problem: `its metadata object is ${length} bytes, shorter than ${METADATA_BYTES}`, final: false };
  }
  // Buffer.alloc is never pooled: the view starts at offset 0, aligned for float64.
  return { bytes: bytes.subarray(0, length), fields: new Float64Array(bytes.buffer, bytes.byteOffset, METADATA_FIELDS), objectBytes: status.size };
}

/** The ring control area after the extension area, validated, if the stream has one. */
function readRing(metaFd: number, block: MetadataBlock, header: StreamHeader, dataBytes: number): { ring: RingGeometry | null } | { problem: string } {
  const control = Buffer.alloc(RingControl.slotHeaders);
  const length = block.objectBytes > RING_CONTROL_OFFSET ? native.fdRead(metaFd, control, RING_CONTROL_OFFSET) : 0;
  if (!hasExtension(block.bytes) || !hasRingMagic(control.subarray(0, length))) {
    return header.ringOnly === true ? { problem: 'its metadata version says ring-only but it has no ring control area' } : { ring: null };
  }
  return decodeRingControl(control.subarray(0, length), header, block.objectBytes, dataBytes);
}

function openObject(name: string, object: string): number {
  try {
    return native.shmOpen(object);
  } catch (error) {
    if (systemCode(error) === 'ENOENT') throw missingStream(name, error);
    throw segmentError(name, error);
  }
}

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
  removeLockFile(location.lockPath);
  if (firstError !== undefined) throw segmentError(location.label, firstError);
  return removed;
}

/** unlink(2) rather than rmSync({ force }), which leaves a dangling symlink in place on Node 24. */
function removeLockFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (systemCode(error) !== 'ENOENT') throw error;
  }
}

function missingStream(name: string, cause: unknown): ShmError {
  return streamNotFound(name, `create it with create(${JSON.stringify(name)}, { shape, dtype })`, { cause });
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
