/** The subscriber's local stream: created with the publisher's shape and dtype, or opened and checked. */
import { create, type Dtype, open, type SharedMemory, ShmError } from 'tsshmem';

import { BridgeError } from './errors.js';

export interface LocalStream {
  readonly stream: SharedMemory;
  readonly created: boolean;
}

export function createOrOpen(name: string, shape: readonly number[], dtype: Dtype, subject: string): LocalStream {
  try {
    return { stream: create(name, { shape: [...shape], dtype }), created: true };
  } catch (error) {
    if (!(error instanceof ShmError && error.code === 'EEXIST')) throw error;
  }
  const stream = open(name);
  if (!sameLayout(stream, shape, dtype)) {
    const found = describeLayout(stream.shape, stream.dtype);
    stream.close();
    throw new BridgeError(
      'ERR_BRIDGE_SHAPE_MISMATCH',
      `stream ${JSON.stringify(name)} is ${found} but the publisher on ${subject} sends ${describeLayout(shape, dtype)}: remove it (tsshmem rm) or subscribe into another stream`,
    );
  }
  return { stream, created: false };
}

export function sameLayout(stream: SharedMemory, shape: readonly number[], dtype: Dtype): boolean {
  return stream.dtype === dtype && stream.shape.length === shape.length && stream.shape.every((dimension, index) => dimension === shape[index]);
}

export function describeLayout(shape: readonly number[], dtype: Dtype): string {
  return `${shape.join('x')} ${dtype}`;
}
