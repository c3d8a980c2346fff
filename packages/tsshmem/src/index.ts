export { create, open, unlink, DEFAULT_MODE, type CreateOptions, type OpenOptions } from './stream/lifecycle.js';
export {
  SharedMemory,
  DEFAULT_READ_TIMEOUT,
  DEFAULT_WRITE_TIMEOUT,
  type ReadOptions,
  type WaitOptions,
  type WriteOptions,
  type WriteAsyncOptions,
  type WaitStats,
} from './stream/shared-memory.js';
export type { AcquireOptions, LockInfo } from './stream/lock.js';
export { RingStream, type RingStatus } from './stream/ring-stream.js';
export { Loan, Sample } from './stream/ring-slots.js';
export type { RingOptions } from './stream/ring-options.js';
export type { Overflow, RingReader } from './format/ring.js';
export { gpuAvailable } from './stream/gpu.js';
export { ShmError, AbortError, type ErrorCode } from './errors.js';
export { DTYPE_NAMES, type Dtype, type ArrayForDtype, type NumericArray } from './dtype/table.js';
export type { WritableValue, ArrayLike } from './dtype/convert.js';
