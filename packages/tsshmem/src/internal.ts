/**
 * `tsshmem/internal`: the parts of the library that this repository's tools
 * (the tsshmem command, its bench and the NATS bridge) build on. Not a public
 * API: names and signatures change without notice between versions.
 */
export { openByBase, unlinkByBase } from './stream/lifecycle.js';
export { readMetadataBlock, type MetadataBlock } from './stream/segments.js';
export { probeLockFile, type LockProbe } from './stream/lock-probe.js';
export { Extension, EXTENSION_VERSION, extensionVersionOf, hasExtension, readStoredName, WAKE_SLOT_COUNT } from './format/extension.js';
export { decodeHeader, Field, gpuDeviceLabel, isWriteInProgress, type StreamHeader } from './format/metadata.js';
export { baseName, baseOfObject, isBaseName, locateByBase, locateByName, lockPath, ObjectSuffix, type StreamLocation } from './format/names.js';
export { formatShape } from './dtype/convert.js';
export { dtypeByName, type DtypeInfo } from './dtype/table.js';
export { fromFloat16Bits } from './dtype/float16.js';
export { MAX_TIMER_MS } from './timer-limit.js';
export { streamNotFound, systemCode } from './errors.js';
export { native } from './native/binding.js';
export { decodeRingControl, hasRingMagic, READER_ENTRY_LOCK_BYTES, RING_CONTROL_OFFSET, RingControl, ringControlBytes, ringState, type RingGeometry, type RingReader } from './format/ring.js';
