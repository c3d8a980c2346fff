/**
 * The ring layout (docs/format.md, Part 3): N frame slots after the pyshmem
 * payload in the data object; their headers and the reader table in a ring
 * control area after tsshmem's extension area, at byte 4096 of the metadata
 * object. This module is the one place that knows the offsets on the
 * TypeScript side (src/native/ring/ring_protocol.h mirrors them); it sizes a
 * new ring, writes its control header, and validates one read from a
 * (possibly hostile) object.
 *
 *   control offset  size  content
 *   0               8     magic "tsring01"
 *   8               4     u32 layout version (2: readers hold their entry's liveness lock)
 *   12              4     u32 flags: bit 0 overflow 'block'; bit 1 pyshmem frame kept current
 *   16              8     u64 N, the number of slots (history depth), 2 to 65536
 *   24              8     u64 slot stride in bytes (payload size rounded up to 64)
 *   32              8     u64 offset of slot 0 in the data object (payload size rounded up to 4096)
 *   40              8     u64 frame bytes (= the payload size)
 *   48              4     u32 reader table entries R (64)
 *   52              4     u32 holds per reader entry (4)
 *   64              8     u64 head: ring index of the newest published frame, 0 before any
 *   72              4     u32 progress: futex word, +1 when a reader frees room while writers wait
 *   76              4     u32 writers waiting for room (block mode)
 *   128             32 N  slot headers {u64 seq, u64 count, f64 write time, u64 0}
 *   128 + 32 N      32 R  reader entries {u32 pid, u32 pid namespace, u64 cursor, u32 holds[4]}
 */
import { EXTENDED_METADATA_BYTES } from './extension.js';
import { MAX_PAYLOAD_BYTES, type StreamHeader } from './metadata.js';

export const RING_CONTROL_OFFSET = EXTENDED_METADATA_BYTES;
const MAGIC = Buffer.from('tsring01', 'latin1');
const LAYOUT_VERSION = 2;
/** Written by an older tsshmem, whose readers held no liveness lock. */
const UNLOCKED_LAYOUT_VERSION = 1;
export const MIN_HISTORY = 2;
export const MAX_HISTORY = 65536;
export const READER_CAPACITY = 64;
export const HOLDS_PER_READER = 4;
const SLOT_HEADER_BYTES = 32;
const READER_ENTRY_BYTES = 32;
const SLOT_ALIGNMENT = 64;
const PAGE = 4096;
const FLAG_BLOCK = 1;
const FLAG_PYSHMEM_FRAME = 2;

export const READER_ENTRY_LOCK_BYTES = READER_ENTRY_BYTES;

export const RingControl = {
  magic: 0,
  layoutVersion: 8,
  flags: 12,
  slots: 16,
  stride: 24,
  slotsOffset: 32,
  frameBytes: 40,
  readers: 48,
  holdsPerReader: 52,
  head: 64,
  progress: 72,
  writersWaiting: 76,
  slotHeaders: 128,
} as const;

export type Overflow = 'overwrite' | 'block';

/** How a ring stream is laid out; what NativeRing needs besides the wake words. */
export interface RingGeometry {
  readonly slots: number;
  readonly overflow: Overflow;
  /** true: every publish also copies the frame into the pyshmem payload (pyshmem peers see it). */
  readonly pyshmemFrame: boolean;
  readonly frameBytes: number;
  readonly stride: number;
  readonly slotsOffset: number;
  readonly readers: number;
  /** Sizes of the two objects. */
  readonly metaBytes: number;
  readonly dataBytes: number;
}

function roundUp(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

function controlBytes(slots: number, readers: number): number {
  return RingControl.slotHeaders + slots * SLOT_HEADER_BYTES + readers * READER_ENTRY_BYTES;
}

/** The bytes of a ring's control area, from its start to the end of its reader table. */
export function ringControlBytes(ring: Pick<RingGeometry, 'slots' | 'readers'>): number {
  return controlBytes(ring.slots, ring.readers);
}

/** The geometry of a new ring; null if its data object would be too large. */
export function planRing(frameBytes: number, slots: number, overflow: Overflow, pyshmemFrame: boolean): RingGeometry | null {
  const stride = roundUp(frameBytes, SLOT_ALIGNMENT);
  const slotsOffset = roundUp(frameBytes, PAGE);
  const dataBytes = slotsOffset + slots * stride;
  if (!Number.isSafeInteger(dataBytes) || dataBytes > MAX_PAYLOAD_BYTES) return null;
  const metaBytes = roundUp(RING_CONTROL_OFFSET + controlBytes(slots, READER_CAPACITY), PAGE);
  return { slots, overflow, pyshmemFrame, frameBytes, stride, slotsOffset, readers: READER_CAPACITY, metaBytes, dataBytes };
}

/** Fills the control header of a new ring (the object is zero-filled: head 0, every slot empty, no reader). */
export function writeRingControl(metadata: Uint8Array, ring: RingGeometry): void {
  const bytes = Buffer.from(metadata.buffer, metadata.byteOffset + RING_CONTROL_OFFSET, controlBytes(ring.slots, ring.readers));
  MAGIC.copy(bytes, RingControl.magic);
  bytes.writeUInt32LE(LAYOUT_VERSION, RingControl.layoutVersion);
  bytes.writeUInt32LE((ring.overflow === 'block' ? FLAG_BLOCK : 0) | (ring.pyshmemFrame ? FLAG_PYSHMEM_FRAME : 0), RingControl.flags);
  bytes.writeBigUInt64LE(BigInt(ring.slots), RingControl.slots);
  bytes.writeBigUInt64LE(BigInt(ring.stride), RingControl.stride);
  bytes.writeBigUInt64LE(BigInt(ring.slotsOffset), RingControl.slotsOffset);
  bytes.writeBigUInt64LE(BigInt(ring.frameBytes), RingControl.frameBytes);
  bytes.writeUInt32LE(ring.readers, RingControl.readers);
  bytes.writeUInt32LE(HOLDS_PER_READER, RingControl.holdsPerReader);
}

/** true if the first bytes of a ring control area (from byte 4096 of the metadata object) hold the magic. */
export function hasRingMagic(control: Uint8Array): boolean {
  return control.length >= MAGIC.length && Buffer.from(control.buffer, control.byteOffset, MAGIC.length).equals(MAGIC);
}

/**
 * Validates a ring control header read from a stream whose objects have the
 * given sizes. Every offset and size is checked against them, so that a
 * hostile header cannot make the native code touch memory outside the
 * mappings.
 */
export function decodeRingControl(
  control: Uint8Array,
  header: StreamHeader,
  metaObjectBytes: number,
  dataObjectBytes: number,
): { ring: RingGeometry } | { problem: string } {
  if (control.length < RingControl.slotHeaders) return { problem: `its ring control area is truncated (${control.length} bytes)` };
  const bytes = Buffer.from(control.buffer, control.byteOffset, control.length);
  const version = bytes.readUInt32LE(RingControl.layoutVersion);
  if (version === UNLOCKED_LAYOUT_VERSION) {
    return { problem: `its ring layout version ${version} was written by an older tsshmem, whose readers hold no liveness lock: remove the stream and create it again` };
  }
  if (version !== LAYOUT_VERSION) return { problem: `ring layout version ${version} is not ${LAYOUT_VERSION}` };
  const flags = bytes.readUInt32LE(RingControl.flags);
  const word = (offset: number): number => Number(bytes.readBigUInt64LE(offset));
  const slots = word(RingControl.slots);
  const stride = word(RingControl.stride);
  const slotsOffset = word(RingControl.slotsOffset);
  const frameBytes = word(RingControl.frameBytes);
  const readers = bytes.readUInt32LE(RingControl.readers);
  const holds = bytes.readUInt32LE(RingControl.holdsPerReader);
  if (!Number.isInteger(slots) || slots < MIN_HISTORY || slots > MAX_HISTORY) return { problem: `ring history ${slots} is not from ${MIN_HISTORY} to ${MAX_HISTORY}` };
  if (frameBytes !== header.size) return { problem: `ring frame size ${frameBytes} differs from the payload size ${header.size}` };
  if (stride < frameBytes || stride % 8 !== 0) return { problem: `ring slot stride ${stride} does not fit a frame of ${frameBytes} bytes` };
  if (slotsOffset < frameBytes || slotsOffset % 8 !== 0) return { problem: `ring slots offset ${slotsOffset} overlaps the payload` };
  if (readers < 1 || readers > 4096 || holds !== HOLDS_PER_READER) return { problem: `ring reader table of ${readers} entries x ${holds} holds is not supported` };
  if (flags & ~(FLAG_BLOCK | FLAG_PYSHMEM_FRAME)) return { problem: `unknown ring flags ${flags}` };
  const dataBytes = slotsOffset + slots * stride;
  if (!Number.isSafeInteger(dataBytes) || dataBytes > dataObjectBytes) {
    return { problem: `its data object is ${dataObjectBytes} bytes, shorter than its ${slots} ring slots need (${dataBytes})` };
  }
  const metaBytes = RING_CONTROL_OFFSET + controlBytes(slots, readers);
  if (metaBytes > metaObjectBytes) return { problem: `its metadata object is ${metaObjectBytes} bytes, shorter than its ring control area needs (${metaBytes})` };
  const pyshmemFrame = (flags & FLAG_PYSHMEM_FRAME) !== 0;
  if (pyshmemFrame === header.ringOnly) return { problem: 'its metadata version contradicts its ring flags' };
  return {
    ring: { slots, overflow: flags & FLAG_BLOCK ? 'block' : 'overwrite', pyshmemFrame, frameBytes, stride, slotsOffset, readers, metaBytes: metaObjectBytes, dataBytes: dataObjectBytes },
  };
}

/** What NativeRing's constructor takes: the geometry and every byte offset. */
export function nativeRingLayout(ring: RingGeometry, extension: { notifyWord: number; wakeWaiting: number; wakeSlots: number; wakeSlotCount: number }) {
  return {
    controlOffset: RING_CONTROL_OFFSET,
    slots: ring.slots,
    stride: ring.stride,
    slotsOffset: ring.slotsOffset,
    frameBytes: ring.frameBytes,
    readers: ring.readers,
    block: ring.overflow === 'block',
    pyshmemFrame: ring.pyshmemFrame,
    ...extension,
  };
}

/** One entry of the reader table, as tools show it. */
export interface RingReader {
  readonly pid: number;
  /** The entry's byte offset in the metadata object: its owner holds an OFD lock on its 32 bytes (its liveness). */
  readonly entryOffset: number;
  /** Ring index of the last frame it consumed. */
  readonly cursor: number;
  /** Slots it holds samples of. */
  readonly holds: readonly number[];
}

/** The ring's head and registered readers, read (plainly, for display) from the live metadata object. */
export function ringState(metadata: ArrayBuffer, ring: RingGeometry): { head: number; readers: RingReader[] } {
  const view = new DataView(metadata, RING_CONTROL_OFFSET);
  const head = Number(view.getBigUint64(RingControl.head, true));
  const readers: RingReader[] = [];
  for (let entry = 0; entry < ring.readers; entry++) {
    const at = RingControl.slotHeaders + ring.slots * SLOT_HEADER_BYTES + entry * READER_ENTRY_BYTES;
    const pid = view.getUint32(at, true);
    if (pid === 0) continue;
    const holds = [0, 1, 2, 3].map((hold) => view.getUint32(at + 16 + 4 * hold, true)).filter((slot) => slot !== 0).map((slot) => slot - 1);
    readers.push({ pid, entryOffset: RING_CONTROL_OFFSET + at, cursor: Number(view.getBigUint64(at + 8, true)), holds });
  }
  return { head, readers };
}
