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
export { gpuAvailable } from './stream/gpu.js';
export { ShmError, AbortError, type ErrorCode } from './errors.js';
export { DTYPE_NAMES, type Dtype, type ArrayForDtype, type NumericArray } from './dtype/table.js';
export type { WritableValue, ArrayLike } from './dtype/convert.js';
