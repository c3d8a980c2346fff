/**
 * The ring part of a stream, for ls, info and watch: history depth, overflow
 * mode, head and the registered readers with how far behind each is, read
 * from the metadata object directly (no lock, no registration).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

import {
  decodeRingControl,
  hasRingMagic,
  native,
  READER_ENTRY_LOCK_BYTES,
  RING_CONTROL_OFFSET,
  RingControl,
  ringControlBytes,
  ringState,
  type StreamHeader,
} from 'tsshmem/internal';

export interface RingReaderRecord {
  readonly pid: number;
  /** Whether it still holds its entry's liveness lock (docs/format.md, "Reader liveness"): false once it died. */
  readonly alive: boolean;
  /** Ring index of the last frame it consumed. */
  readonly cursor: number;
  /** Frames published that it has not consumed. */
  readonly behind: number;
  /** Samples it holds. */
  readonly holds: number;
}

export interface RingRecord {
  readonly history: number;
  readonly overflow: 'overwrite' | 'block';
  /** Whether publishes keep the pyshmem payload current. */
  readonly pyshmemFrame: boolean;
  /** Ring index of the newest frame. */
  readonly head: number;
  readonly readers: readonly RingReaderRecord[];
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The ring of a stream, null if it has none, or why its ring control area is invalid. */
export function inspectRing(metaPath: string, header: StreamHeader, dataBytes: number): RingRecord | null | { problem: string } {
  let fd: number;
  try {
    fd = openSync(metaPath, OPEN_FLAGS);
  } catch {
    return null;
  }
  try {
    const metaBytes = fstatSync(fd).size;
    if (metaBytes <= RING_CONTROL_OFFSET) return null;
    // Only the control area and the reader table are read: the object's size
    // is whatever its creator (or a hostile process) made it.
    const control = Buffer.alloc(RingControl.slotHeaders);
    const controlLength = readSync(fd, control, 0, control.length, RING_CONTROL_OFFSET);
    if (!hasRingMagic(control.subarray(0, controlLength))) return null;
    const decoded = decodeRingControl(control.subarray(0, controlLength), header, metaBytes, dataBytes);
    if ('problem' in decoded) return decoded;
    const { ring } = decoded;
    // Zero up to the control area, where ringState starts reading.
    const bytes = Buffer.alloc(RING_CONTROL_OFFSET + ringControlBytes(ring));
    readSync(fd, bytes, RING_CONTROL_OFFSET, bytes.length - RING_CONTROL_OFFSET, RING_CONTROL_OFFSET);
    const { head, readers } = ringState(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer, ring);
    return {
      history: ring.slots,
      overflow: ring.overflow,
      pyshmemFrame: ring.pyshmemFrame,
      head,
      readers: readers.map((reader) => ({
        pid: reader.pid,
        alive: native.fdRangeLocked(fd, reader.entryOffset, READER_ENTRY_LOCK_BYTES),
        cursor: reader.cursor,
        behind: Math.max(0, head - reader.cursor),
        holds: reader.holds.length,
      })),
    };
  } finally {
    closeSync(fd);
  }
}

/** "64 overwrite, 2 readers (max 3 behind)" for ls; "-" for a plain stream. */
export function summarizeRing(ring: RingRecord | null): string {
  if (ring === null) return '-';
  const live = ring.readers.filter((reader) => reader.alive);
  const worst = Math.max(0, ...live.map((reader) => reader.behind));
  const readers = live.length === 0 ? 'no readers' : `${live.length} reader${live.length === 1 ? '' : 's'} (max ${worst} behind)`;
  return `${ring.history} ${ring.overflow}, ${readers}`;
}

/** One line per registered reader, for info and watch. */
export function describeRingReaders(ring: RingRecord): string[] {
  return ring.readers.map(
    (reader) =>
      `pid ${reader.pid} (${reader.alive ? 'alive' : 'dead'}): ${reader.behind} of ${ring.history} frames behind` +
      (reader.holds > 0 ? `, holds ${reader.holds} sample${reader.holds === 1 ? '' : 's'}` : ''),
  );
}

