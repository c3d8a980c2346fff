/** Validation of create()'s ring options (history, overflow, pyshmemFrame). */
import { describeValue, invalidArgType, invalidArgValue } from '../errors.js';
import { MAX_HISTORY, MIN_HISTORY, type Overflow, planRing, type RingGeometry } from '../format/ring.js';
import { LARGER_BUFFERS_REMEDY, MAX_BUFFER_BYTES } from './buffer-limit.js';

export interface RingOptions {
  /**
   * Frame slots (2 to 65536): makes a ring stream, where every frame reaches
   * every reader in order while it stays within `history` frames.
   */
  readonly history?: number;
  /** 'overwrite' (default): writers never wait for readers. 'block': writers wait until every registered reader has room. */
  readonly overflow?: Overflow;
  /**
   * true (default): every publish also copies the frame into the pyshmem
   * payload, so pyshmem and older tsshmem peers read the newest frame.
   * false: no copy; pyshmem refuses the stream (metadata version 1002).
   */
  readonly pyshmemFrame?: boolean;
}

/** The geometry of the ring to create, or null for a plain stream. */
export function checkRingOptions(options: RingOptions, frameBytes: number): RingGeometry | null {
  const { history, overflow, pyshmemFrame } = options;
  if (history === undefined) {
    if (overflow !== undefined || pyshmemFrame !== undefined) {
      throw invalidArgValue('overflow and pyshmemFrame apply to ring streams only: pass a history (2 or more frame slots) too');
    }
    return null;
  }
  if (typeof history !== 'number') throw invalidArgType(`history must be a number of frame slots, received ${describeValue(history)}`);
  if (!Number.isInteger(history) || history < MIN_HISTORY || history > MAX_HISTORY) {
    throw invalidArgValue(`history must be an integer from ${MIN_HISTORY} to ${MAX_HISTORY} frame slots, received ${history}`);
  }
  if (overflow !== undefined && overflow !== 'overwrite' && overflow !== 'block') {
    throw invalidArgValue(`overflow must be 'overwrite' or 'block', received ${describeValue(overflow)}`);
  }
  if (pyshmemFrame !== undefined && typeof pyshmemFrame !== 'boolean') {
    throw invalidArgType(`pyshmemFrame must be true or false, received ${describeValue(pyshmemFrame)}`);
  }
  const ring = planRing(frameBytes, history, overflow ?? 'overwrite', pyshmemFrame ?? true);
  if (ring === null) throw invalidArgValue(`a history of ${history} frames of ${frameBytes} bytes is too large`);
  if (ring.dataBytes > MAX_BUFFER_BYTES) {
    throw invalidArgValue(
      `a history of ${history} frames of ${frameBytes} bytes needs one buffer of ${ring.dataBytes} bytes, more than this runtime makes (${MAX_BUFFER_BYTES} bytes, buffer.constants.MAX_LENGTH): use a smaller history or shape, or ${LARGER_BUFFERS_REMEDY}`,
    );
  }
  return ring;
}
