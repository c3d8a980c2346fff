/**
 * The pyshmem v2 metadata block (docs/format.md, "Metadata"): 32 little-endian
 * float64 values at the start of the `_meta` object. This module is the one
 * place that knows the field indices; it decodes and validates a block read
 * from a (possibly hostile) segment, and encodes a new one.
 */
import { formatShape } from '../dtype/convert.js';
import { dtypeByCode, type DtypeInfo } from '../dtype/table.js';

export const FORMAT_VERSION = 2;
/**
 * The version of a ring stream created with pyshmemFrame: false (its frames
 * live only in the ring, docs/format.md Part 3). pyshmem accepts only 2, so
 * it refuses such a stream instead of reading a payload nobody keeps current.
 */
export const RING_ONLY_VERSION = 1002;
export const METADATA_FIELDS = 32;
export const METADATA_BYTES = METADATA_FIELDS * 8;
export const MAX_NDIM = 19;

export const Field = {
  version: 0,
  count: 1,
  dtypeCode: 2,
  ndim: 3,
  size: 4,
  gpuEnabled: 5,
  deviceIndex: 6,
  creatorPid: 7,
  writeTime: 8,
  writeSequence: 9,
  lockOwnerPid: 10,
  lockDepth: 11,
  cpuMirror: 12,
  shapeStart: 13,
} as const;

/** What a stream is, as its metadata declares it. */
export interface StreamHeader {
  readonly dtype: DtypeInfo;
  readonly shape: readonly number[];
  /** Payload bytes. */
  readonly size: number;
  readonly gpuEnabled: boolean;
  readonly deviceIndex: number;
  readonly creatorPid: number;
  readonly cpuMirror: boolean;
  /** Version RING_ONLY_VERSION: the pyshmem payload is not kept current; the stream must have a ring. */
  readonly ringOnly?: boolean;
}

/**
 * final: no creator still at work can explain the problem (a creator fills
 * the block once, version first in pyshmem, and never writes count or
 * sequence), so waiting will not mend it.
 */
export type DecodeResult =
  | { readonly ok: true; readonly header: StreamHeader }
  | { readonly ok: false; readonly problem: string; readonly final: boolean };

/** The largest payload tsshmem accepts: offsets must stay exact in a float64. */
export const MAX_PAYLOAD_BYTES = Number.MAX_SAFE_INTEGER;

/**
 * Validates every field a reader relies on. `problem` says what is wrong in
 * words fit for an error message; version 0 reads as "not initialised yet",
 * which an opener racing a creator treats as "wait and retry".
 */
export function decodeHeader(fields: Float64Array): DecodeResult {
  const version = fields[Field.version]!;
  if (version === 0) return fail('the metadata is not initialised (version 0)');
  if (version !== FORMAT_VERSION && version !== RING_ONLY_VERSION) {
    return fail(`metadata version ${version} is not the pyshmem format version ${FORMAT_VERSION}`, true);
  }
  for (const [field, label] of [[Field.count, 'count'], [Field.writeSequence, 'write sequence']] as const) {
    if (!isCounter(fields[field]!)) return fail(`${label} ${fields[field]} is not an integer from 0 to 2^53`, true);
  }
  const dtype = dtypeByCode(fields[Field.dtypeCode]!);
  if (dtype === undefined) return fail(`unknown dtype code ${fields[Field.dtypeCode]}`);
  const ndim = fields[Field.ndim]!;
  if (!Number.isInteger(ndim) || ndim < 1 || ndim > MAX_NDIM) return fail(`ndim ${ndim} is not an integer from 1 to ${MAX_NDIM}`);
  const shape = Array.from(fields.subarray(Field.shapeStart, Field.shapeStart + ndim));
  const badDimension = shape.find((dimension) => !Number.isSafeInteger(dimension) || dimension < 1);
  if (badDimension !== undefined) return fail(`shape dimension ${badDimension} is not a positive integer`);
  const expectedSize = shape.reduce((product, dimension) => product * dimension, dtype.itemSize);
  if (!Number.isSafeInteger(expectedSize)) return fail('shape is too large');
  const size = fields[Field.size]!;
  if (size !== expectedSize) {
    return fail(`size ${size} does not match shape ${formatShape(shape)} of ${dtype.name} (${expectedSize} bytes)`);
  }
  const gpuEnabled = fields[Field.gpuEnabled]!;
  if (gpuEnabled !== 0 && gpuEnabled !== 1) return fail(`gpu flag ${gpuEnabled} is neither 0 nor 1`);
  return {
    ok: true,
    header: {
      dtype,
      shape,
      size,
      gpuEnabled: gpuEnabled === 1,
      deviceIndex: fields[Field.deviceIndex]!,
      creatorPid: fields[Field.creatorPid]!,
      cpuMirror: fields[Field.cpuMirror]! === 1,
      ringOnly: version === RING_ONLY_VERSION,
    },
  };
}

/** 'cuda:N' for a GPU stream, null for a CPU stream. */
export function gpuDeviceLabel(header: Pick<StreamHeader, 'gpuEnabled' | 'deviceIndex'>): string | null {
  return header.gpuEnabled ? `cuda:${header.deviceIndex}` : null;
}

/** An odd write sequence: a write is in progress, or its writer died mid-write. */
export function isWriteInProgress(writeSequence: number): boolean {
  return writeSequence % 2 === 1;
}

/** Counts and sequences are integers kept in float64: past 2^53 an increment is lost. */
export function isCounter(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function fail(problem: string, final = false): DecodeResult {
  return { ok: false, problem, final };
}

/**
 * Fills a zeroed block for a new CPU stream. The version is stored last, so
 * an opener that sees version 2 sees every other field (pyshmem writes the
 * version first; openers still wait on a half-filled block, see decodeHeader).
 */
export function encodeNewHeader(fields: Float64Array, header: StreamHeader): void {
  fields[Field.count] = 0;
  fields[Field.dtypeCode] = header.dtype.code;
  fields[Field.ndim] = header.shape.length;
  fields[Field.size] = header.size;
  fields[Field.gpuEnabled] = header.gpuEnabled ? 1 : 0;
  fields[Field.deviceIndex] = header.deviceIndex;
  fields[Field.creatorPid] = header.creatorPid;
  fields[Field.writeTime] = 0;
  fields[Field.writeSequence] = 0;
  fields[Field.lockOwnerPid] = 0;
  fields[Field.lockDepth] = 0;
  fields[Field.cpuMirror] = header.cpuMirror ? 1 : 0;
  header.shape.forEach((dimension, i) => (fields[Field.shapeStart + i] = dimension));
  fields[Field.version] = header.ringOnly === true ? RING_ONLY_VERSION : FORMAT_VERSION;
}
