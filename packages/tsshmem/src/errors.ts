/**
 * Errors of tsshmem. Every error carries a `.code`: POSIX names where the
 * condition is the system's (`ENOENT`, `EEXIST`, `ETIMEDOUT`, `EACCES`),
 * Node-style `ERR_*` names for tsshmem's own conditions.
 */

export type ErrorCode =
  | 'ENOENT'
  | 'EEXIST'
  | 'ETIMEDOUT'
  | 'EACCES'
  | 'EBUSY'
  | 'ERR_STREAM_CLOSED'
  | 'ERR_LOCK_NOT_HELD'
  | 'ERR_SHAPE_MISMATCH'
  | 'ERR_INVALID_STREAM'
  | 'ERR_WRITE_INTERRUPTED'
  | 'ERR_GPU_UNAVAILABLE'
  | 'ERR_SAMPLE_LIMIT'
  | 'ERR_LOAN_ACTIVE'
  | 'ERR_BUFFER_TOO_LARGE'
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE';

/** An error raised by tsshmem for a condition of a stream (not of an argument). */
export class ShmError extends Error {
  override name = 'ShmError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * ENOENT for a stream that does not exist; remedy says what to do (the
 * library suggests create(), the tools their own way).
 */
export function streamNotFound(name: string, remedy: string, options?: { cause?: unknown }): ShmError {
  return new ShmError('ENOENT', `stream ${JSON.stringify(name)} does not exist: ${remedy}`, options);
}

/** A wrong type of argument: a TypeError with code `ERR_INVALID_ARG_TYPE`. */
export function invalidArgType(message: string): TypeError & { code: 'ERR_INVALID_ARG_TYPE' } {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' as const });
}

/** A value out of range or inconsistent: a RangeError with code `ERR_INVALID_ARG_VALUE`. */
export function invalidArgValue(message: string): RangeError & { code: 'ERR_INVALID_ARG_VALUE' } {
  return Object.assign(new RangeError(message), { code: 'ERR_INVALID_ARG_VALUE' as const });
}

/** Like Node's own: name `AbortError`, code `ABORT_ERR`, the signal's reason as cause. */
export class AbortError extends Error {
  override name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The system error code (`ENOENT`, ...) of an error thrown by the native addon, if any. */
export function systemCode(error: unknown): string | undefined {
  if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') {
    return (error as unknown as { code: string }).code;
  }
  return undefined;
}

/** A short description of a received value, for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return `${typeof value} ${String(value)}`;
}
