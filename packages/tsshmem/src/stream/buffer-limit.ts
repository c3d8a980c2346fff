/**
 * The largest ArrayBuffer this runtime makes over mapped memory:
 * buffer.constants.MAX_LENGTH (4 GiB on Node 20 and Bun, 2^53 - 1 on Node
 * 22+ and Deno). A ring's slots, and a live view of a plain stream, are views
 * of one such buffer over the whole data object. Asked for a larger one,
 * Node 20's Node-API frees its finalizer's data twice and the process aborts,
 * so the library never asks.
 */
import { constants } from 'node:buffer';

import { ShmError } from '../errors.js';
import type { NativeStream } from '../native/binding.js';

export const MAX_BUFFER_BYTES: number = constants.MAX_LENGTH;

/** What to do about a data object larger than one buffer of this runtime. */
export const LARGER_BUFFERS_REMEDY = `Node 22 or later, whose buffers reach ${Number.MAX_SAFE_INTEGER} bytes`;

/**
 * The stream's data object as one ArrayBuffer of dataBytes, or
 * ERR_BUFFER_TOO_LARGE where this runtime cannot make one that large.
 * purpose: what needs it, for the message.
 */
export function dataBufferOf(native: NativeStream, dataBytes: number, label: string, purpose: string): ArrayBuffer {
  if (dataBytes > MAX_BUFFER_BYTES) {
    throw new ShmError(
      'ERR_BUFFER_TOO_LARGE',
      `stream ${JSON.stringify(label)}: ${purpose} needs one buffer over its ${dataBytes} bytes of data, more than this runtime makes (${MAX_BUFFER_BYTES} bytes, buffer.constants.MAX_LENGTH): use ${LARGER_BUFFERS_REMEDY}`,
    );
  }
  return native.dataBuffer();
}
