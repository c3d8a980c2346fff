/**
 * tsshmem's own area of the metadata object, after byte 256 (docs/format.md,
 * "Part 2. tsshmem's extension area"). pyshmem never reads it; a stream created by pyshmem
 * has none, and everything here is optional. All integers little-endian.
 *
 *   offset  size  content
 *   256     8     magic "tsshmem1"
 *   264     4     extension version (1)
 *   272     4     notify word: bumped after every tsshmem write; futex(2) target
 *   276     4     wake slots in use (state WAITING or SLEEPING)
 *   288     1024  64 wake slots of 16 bytes {pid, token, state, pid namespace}. State 1,
 *                 WAITING: a handle awaiting next() has bound the abstract
 *                 datagram socket "tsshmem-wake-<pid>-<token>"; a writer sends
 *                 it one byte. State 2, SLEEPING: a thread sleeps in futex(2)
 *                 on the notify word (readNewSync); a writer wakes it.
 *   1312    4     byte length of the stream name
 *   1316    ...   the stream name, UTF-8 (so tools can show it; pyshmem stores only a hash)
 */
import { METADATA_BYTES } from './metadata.js';

export const EXTENDED_METADATA_BYTES = 4096;
const MAGIC = Buffer.from('tsshmem1', 'latin1');
export const EXTENSION_VERSION = 1;
export const WAKE_SLOT_COUNT = 64;
const WAKE_SLOT_BYTES = 16;

export const Extension = {
  magic: METADATA_BYTES,
  version: METADATA_BYTES + 8,
  notifyWord: METADATA_BYTES + 16,
  wakeWaiting: METADATA_BYTES + 20,
  wakeSlots: METADATA_BYTES + 32,
  nameLength: METADATA_BYTES + 32 + WAKE_SLOT_COUNT * WAKE_SLOT_BYTES,
  name: METADATA_BYTES + 36 + WAKE_SLOT_COUNT * WAKE_SLOT_BYTES,
} as const;

/** Where the native waits find their words; see src/native/stream.cc. */
export const NATIVE_EXTENSION_LAYOUT = {
  notifyWord: Extension.notifyWord,
  wakeWaiting: Extension.wakeWaiting,
  wakeSlots: Extension.wakeSlots,
  wakeSlotCount: WAKE_SLOT_COUNT,
} as const;

export const MAX_STORED_NAME_BYTES = EXTENDED_METADATA_BYTES - Extension.name;

/** The version of the extension area the metadata holds, or null if it has none (no magic). */
export function extensionVersionOf(metadata: Uint8Array): number | null {
  if (metadata.length < EXTENDED_METADATA_BYTES) return null;
  const bytes = Buffer.from(metadata.buffer, metadata.byteOffset, metadata.length);
  return bytes.subarray(Extension.magic, Extension.magic + 8).equals(MAGIC) ? bytes.readUInt32LE(Extension.version) : null;
}

/**
 * Whether the metadata holds an extension area this version can use (version
 * 1). An area of another version is left alone, as if the stream had none
 * (it then works as a pyshmem stream does: no wake-ups, no ring), rather
 * than read with a layout it may not have.
 */
export function hasExtension(metadata: Uint8Array): boolean {
  return extensionVersionOf(metadata) === EXTENSION_VERSION;
}

/** Writes the extension header and, if it fits, the name; the futex words start at 0. */
export function writeExtension(metadata: Uint8Array, name: string): void {
  const bytes = Buffer.from(metadata.buffer, metadata.byteOffset, metadata.length);
  MAGIC.copy(bytes, Extension.magic);
  bytes.writeUInt32LE(EXTENSION_VERSION, Extension.version);
  const encoded = Buffer.from(name, 'utf8');
  if (encoded.length <= MAX_STORED_NAME_BYTES) {
    bytes.writeUInt32LE(encoded.length, Extension.nameLength);
    encoded.copy(bytes, Extension.name);
  }
}

/** The stream name stored by tsshmem, or null (pyshmem stream, or a name too long to store). */
export function readStoredName(metadata: Uint8Array): string | null {
  if (!hasExtension(metadata)) return null;
  const bytes = Buffer.from(metadata.buffer, metadata.byteOffset, metadata.length);
  const length = bytes.readUInt32LE(Extension.nameLength);
  if (length === 0 || length > MAX_STORED_NAME_BYTES) return null;
  return bytes.toString('utf8', Extension.name, Extension.name + length);
}
