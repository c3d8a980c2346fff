// Decodes a binary frame message. The layout is written by
// src/cli/viewer/protocol.ts (encodeFrame); keep the two in step.

const HEADER_BYTES = 56;

/** Indexed by pyshmem dtype code; the server converts int64, uint64 and float16 to float32. */
const ARRAY_TYPES = [Int8Array, Int16Array, Int32Array, null, Uint8Array, Uint16Array, Uint32Array, null, null, Float32Array, Float64Array];

export function decodeFrame(buffer) {
  const header = new DataView(buffer, 0, HEADER_BYTES);
  const ArrayType = ARRAY_TYPES[header.getUint32(4, true)];
  if (!ArrayType) throw new Error(`frame with unknown dtype code ${header.getUint32(4, true)}`);
  return {
    stream: header.getUint32(0, true),
    count: header.getFloat64(8, true),
    writeTime: header.getFloat64(16, true),
    dropped: header.getFloat64(24, true),
    mean: header.getFloat64(32, true),
    min: header.getFloat64(40, true),
    max: header.getFloat64(48, true),
    values: new ArrayType(buffer, HEADER_BYTES),
  };
}
