/** create(), open() and unlink(): the entry points that validate what users pass. */
import { describeValue, invalidArgType, invalidArgValue, ShmError, systemCode } from '../errors.js';
import { formatShape } from '../dtype/convert.js';
import { dtypeByName, type Dtype } from '../dtype/table.js';
import { MAX_NDIM, MAX_PAYLOAD_BYTES, type StreamHeader } from '../format/metadata.js';
import { checkStreamName, locateByBase, locateByName, type StreamLocation } from '../format/names.js';
import { gpuAvailable } from './gpu.js';
import { checkBoolean, checkDuration, checkOptions } from './options.js';
import { createSegments, DEFAULT_SETTLE_TIMEOUT, openSegments, unlinkStream } from './segments.js';
import { SharedMemory } from './shared-memory.js';
import { checkRingOptions, type RingOptions } from './ring-options.js';
import { RingStream } from './ring-stream.js';
import type { RingGeometry } from '../format/ring.js';
import type { NativeStream } from '../native/binding.js';

export interface CreateOptions<D extends Dtype = Dtype> extends RingOptions {
  /** Dimensions, outermost first: a positive integer or an array of 1 to 19 of them. */
  readonly shape: number | readonly number[];
  /** Default 'float32'. */
  readonly dtype?: D;
  /** Payload bytes; optional, and if given must equal product(shape) x item size. */
  readonly size?: number;
  /** 'cuda:N' for a GPU stream; not supported by this build (see gpuAvailable()). */
  readonly gpuDevice?: string | null;
  /** GPU streams only; CPU streams always hold the payload in the data segment. */
  readonly cpuMirror?: boolean;
  /** Permission bits of the shm objects; default 0o600 (owner only). */
  readonly mode?: number;
  /** Take the write lock now and hold it while the handle lives: writes need no system call. */
  readonly exclusiveWriter?: boolean;
}

export interface OpenOptions {
  /** 'cuda:N' to attach a GPU stream's device memory; not supported by this build. */
  readonly gpuDevice?: string | null;
  /** Take the write lock now and hold it while the handle lives (fails with EBUSY if held). */
  readonly exclusiveWriter?: boolean;
  /**
   * Milliseconds to keep retrying a stream that looks half-created (metadata
   * not yet initialised or consistent, data object not yet there) before
   * failing; default 1000, 0 for a single attempt. open() blocks meanwhile.
   */
  readonly settleTimeout?: number;
}

export const DEFAULT_MODE = 0o600;

/** Creates a new stream; fails with EEXIST if the name is taken. With a history, a ring stream. */
export function create<D extends Dtype = 'float32'>(name: string, options: CreateOptions<D> & { readonly history: number }): RingStream<D>;
export function create<D extends Dtype = 'float32'>(name: string, options: CreateOptions<D>): SharedMemory<D>;
export function create<D extends Dtype = 'float32'>(name: string, options: CreateOptions<D>): SharedMemory<D> {
  checkStreamName(name);
  checkOptions(options, 'create(name, { shape, ... })', { required: true });
  checkNoGpu(options.gpuDevice);
  if (!checkBoolean(options.cpuMirror, 'cpuMirror', true)) throw invalidArgValue('cpuMirror: false applies to GPU streams only; a CPU stream always holds its payload');
  const exclusiveWriter = checkBoolean(options.exclusiveWriter, 'exclusiveWriter', false);
  const dtype = dtypeByName(options.dtype ?? 'float32');
  const shape = checkShape(options.shape);
  const size = shape.reduce((product, dimension) => product * dimension, dtype.itemSize);
  if (!Number.isSafeInteger(size) || size > MAX_PAYLOAD_BYTES) throw invalidArgValue(`shape ${formatShape(shape)} is too large`);
  if (options.size !== undefined && options.size !== size) {
    throw invalidArgValue(`size ${String(options.size)} does not match shape ${formatShape(shape)} of ${dtype.name} (${size} bytes): omit size or pass ${size}`);
  }
  const mode = checkMode(options.mode);
  const ring = checkRingOptions(options, size);
  const header: StreamHeader = {
    dtype,
    shape,
    size,
    gpuEnabled: false,
    deviceIndex: -1,
    creatorPid: process.pid,
    cpuMirror: true,
    ringOnly: ring !== null && !ring.pyshmemFrame,
  };
  const location = locateByName(name);
  const stream = createMappable(location, header, mode, ring, ring === null ? 'shape' : 'shape or history');
  try {
    const parts = { name, location, header, native: stream, owner: true, exclusiveWriter, lockMode: mode };
    return ring === null ? new SharedMemory<D>(parts) : new RingStream<D>(parts, ring);
  } catch (error) {
    stream.close();
    unlinkStream(location);
    throw error;
  }
}

/**
 * createSegments(), with a mapping refused for its size (ENOMEM: past the
 * address space or the memory the system lets a process map) reported as the
 * argument it comes from. createSegments has removed the objects by then.
 */
function createMappable(location: StreamLocation, header: StreamHeader, mode: number, ring: RingGeometry | null, remedy: string): NativeStream {
  try {
    return createSegments(location, header, mode, ring);
  } catch (error) {
    if (systemCode(error) !== 'ENOMEM') throw error;
    const bytes = ring?.dataBytes ?? header.size;
    throw Object.assign(invalidArgValue(`stream ${JSON.stringify(location.label)} of ${bytes} bytes cannot be mapped (ENOMEM: not enough memory or address space): use a smaller ${remedy}`), {
      cause: error,
    });
  }
}

/** Opens an existing stream, created by tsshmem or pyshmem; fails with ENOENT if there is none. */
export function open(name: string, options?: OpenOptions): SharedMemory {
  checkStreamName(name);
  return openAt(locateByName(name), checkOptions(options, 'open(name, options)'));
}

/**
 * Opens a stream by its base name (`ps_` + 14 hex digits, as /dev/shm shows
 * it): the only way to address a stream created by pyshmem, which stores no
 * name. For tools; not exported from the package.
 */
export function openByBase(base: string, options?: OpenOptions): SharedMemory {
  return openAt(locateByBase(base), checkOptions(options, 'open(name, options)'));
}

function openAt(location: StreamLocation, options: OpenOptions): SharedMemory {
  checkNoGpu(options.gpuDevice);
  const exclusiveWriter = checkBoolean(options.exclusiveWriter, 'exclusiveWriter', false);
  const settleTimeout = checkDuration(options.settleTimeout, 'settleTimeout', DEFAULT_SETTLE_TIMEOUT);
  const { header, native, ring } = openSegments(location, settleTimeout);
  try {
    const parts = { name: location.label, location, header, native, owner: false, exclusiveWriter };
    return ring === null ? new SharedMemory(parts) : new RingStream(parts, ring);
  } catch (error) {
    native.close();
    throw error;
  }
}

/** Removes a stream's objects (each may already be gone); true if any existed. */
export function unlink(name: string): boolean {
  checkStreamName(name);
  return unlinkStream(locateByName(name));
}

/** unlink() for a stream known by its base name. For tools; not exported from the package. */
export function unlinkByBase(base: string): boolean {
  return unlinkStream(locateByBase(base));
}

function checkShape(shape: unknown): number[] {
  const dimensions = typeof shape === 'number' ? [shape] : shape;
  if (!Array.isArray(dimensions)) {
    throw invalidArgType(`shape must be a positive integer or an array of them, received ${describeValue(shape)}`);
  }
  if (dimensions.length < 1 || dimensions.length > MAX_NDIM) {
    throw invalidArgValue(`shape must have 1 to ${MAX_NDIM} dimensions, received ${dimensions.length}`);
  }
  for (const dimension of dimensions) {
    if (!Number.isSafeInteger(dimension) || (dimension as number) < 1) {
      throw invalidArgValue(`shape dimensions must be positive integers, received ${formatShape(dimensions.map(String) as never)}`);
    }
  }
  return [...(dimensions as number[])];
}

function checkMode(mode: unknown): number {
  if (mode === undefined) return DEFAULT_MODE;
  if (!Number.isInteger(mode) || (mode as number) < 0 || (mode as number) > 0o777) {
    throw invalidArgValue(`mode must be permission bits from 0 to 0o777, received ${describeValue(mode)}`);
  }
  return mode as number;
}

function checkNoGpu(gpuDevice: unknown): void {
  if (gpuDevice === undefined || gpuDevice === null) return;
  if (!gpuAvailable()) {
    throw new ShmError(
      'ERR_GPU_UNAVAILABLE',
      `gpuDevice ${describeValue(gpuDevice)}: GPU streams are not supported by this build of tsshmem (gpuAvailable() is false); omit gpuDevice for a CPU stream`,
    );
  }
}
