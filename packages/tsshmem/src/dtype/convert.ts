/**
 * Turning what a user passes to write() into the stream's TypedArray, like
 * numpy's `asarray(value, dtype)`: a TypedArray of the stream's dtype passes
 * through untouched (the fast path), and so does a Uint16Array for float16
 * (raw half bits, on every runtime); anything else is converted element by
 * element. As in numpy, arrays of numbers are lists (an integer out of the
 * dtype's range, or NaN or Infinity into an integer dtype, is an error) and
 * TypedArrays are arrays (cast like C: truncated and wrapped). Shapes are
 * checked before anything is written.
 */
import { describeValue, invalidArgType, invalidArgValue, ShmError } from '../errors.js';
import { toFloat16Bits } from './float16.js';
import type { Dtype, DtypeInfo, Float16ArrayOfRuntime, NumericArray } from './table.js';

type AnyTypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float16ArrayOfRuntime
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;
type NestedNumbers = number | bigint | readonly NestedNumbers[];

/** An ndarray-like: flat data in C order plus its shape. */
export interface ArrayLike {
  readonly data: AnyTypedArray | readonly (number | bigint)[];
  readonly shape: readonly number[];
}

export type WritableValue = AnyTypedArray | readonly NestedNumbers[] | ArrayLike;

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, 1);
}

/** The payload for value, of exactly `shape` elements of `dtype`. Throws without side effects. */
export function toPayload(value: unknown, dtype: DtypeInfo, shape: readonly number[]): NumericArray {
  const expected = elementCount(shape);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const typed = value as AnyTypedArray;
    checkCount(typed.length, [typed.length], dtype, shape);
    return isStoredAsIs(typed, dtype) ? (typed as NumericArray) : convert(typed as ArrayLikeNumbers, dtype, expected, false);
  }
  if (Array.isArray(value)) {
    const received = nestedShape(value);
    if (received.length > 1 || elementCount(received) !== expected) {
      if (!shapesEqual(received, shape)) throw shapeMismatch(dtype, shape, received);
    }
    return convert(received.length > 1 ? value.flat(received.length - 1) : value, dtype, expected, true);
  }
  if (isArrayLike(value)) {
    if (!shapesEqual(value.shape, shape)) throw shapeMismatch(dtype, shape, value.shape);
    return toPayload(value.data, dtype, shape);
  }
  throw invalidArgType(
    `write() takes a TypedArray, an array of numbers (flat or nested to the shape) or { data, shape }, received ${describeValue(value)}`,
  );
}

/**
 * The stream's own array type, or for float16 a Uint16Array: raw half bits on
 * every runtime, even where the stream's own type is Float16Array (values).
 */
function isStoredAsIs(typed: AnyTypedArray, dtype: DtypeInfo): boolean {
  return typed.constructor === dtype.ArrayType || (dtype.name === 'float16' && typed instanceof Uint16Array);
}

function checkCount(count: number, received: readonly number[], dtype: DtypeInfo, shape: readonly number[]): void {
  if (count !== elementCount(shape)) throw shapeMismatch(dtype, shape, received);
}

function shapeMismatch(dtype: DtypeInfo, expected: readonly number[], received: readonly number[]): ShmError {
  return new ShmError(
    'ERR_SHAPE_MISMATCH',
    `write() expected shape ${formatShape(expected)} (${elementCount(expected)} ${dtype.name} elements), ` +
      `received shape ${formatShape(received)} (${elementCount(received)} elements); nothing was written`,
  );
}

function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dimension, i) => dimension === b[i]);
}

function isArrayLike(value: unknown): value is ArrayLike {
  if (typeof value !== 'object' || value === null) return false;
  const { data, shape } = value as Partial<ArrayLike>;
  return Array.isArray(shape) && (Array.isArray(data) || (ArrayBuffer.isView(data) && !(data instanceof DataView)));
}

/** The shape implied by nesting; throws for ragged or non-numeric nesting. */
function nestedShape(value: readonly NestedNumbers[]): number[] {
  const shape: number[] = [];
  let level: NestedNumbers = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0] as NestedNumbers;
  }
  checkRectangular(value, shape, 0);
  return shape;
}

function checkRectangular(value: NestedNumbers, shape: readonly number[], depth: number): void {
  if (depth === shape.length) {
    if (Array.isArray(value)) throw invalidArgValue('write() received a ragged nested array: every row must have the same length');
    return;
  }
  if (!Array.isArray(value) || value.length !== shape[depth]) {
    throw invalidArgValue(`write() received a ragged nested array: expected ${shape[depth]} items at depth ${depth}`);
  }
  for (const item of value) checkRectangular(item, shape, depth + 1);
}

function convert(source: ArrayLikeNumbers, dtype: DtypeInfo, count: number, checkRange: boolean): NumericArray {
  const target = new dtype.ArrayType(count);
  const store = elementStore(dtype, target);
  const range = checkRange ? INTEGER_RANGES[dtype.name] : undefined;
  for (let i = 0; i < count; i++) {
    const element = source[i];
    if (range !== undefined) checkInRange(element, i, dtype, range);
    store(i, element);
  }
  return target;
}

const INTEGER_RANGES: Partial<Record<Dtype, readonly [bigint, bigint]>> = {
  int8: [-(2n ** 7n), 2n ** 7n - 1n],
  int16: [-(2n ** 15n), 2n ** 15n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint8: [0n, 2n ** 8n - 1n],
  uint16: [0n, 2n ** 16n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

function checkInRange(element: unknown, index: number, dtype: DtypeInfo, [min, max]: readonly [bigint, bigint]): void {
  if (typeof element === 'number' && !Number.isFinite(element)) {
    throw invalidArgValue(`write() element ${index} is ${element}, which ${dtype.name} cannot hold; nothing was written`);
  }
  if (typeof element !== 'number' && typeof element !== 'bigint') return;
  const integer = typeof element === 'bigint' ? element : BigInt(Math.trunc(element));
  if (integer < min || integer > max) {
    throw invalidArgValue(`write() element ${index} is ${element}, out of the range of ${dtype.name} (${min} to ${max}); nothing was written`);
  }
}

interface ArrayLikeNumbers {
  readonly length: number;
  readonly [index: number]: unknown;
}

function elementStore(dtype: DtypeInfo, target: NumericArray): (index: number, element: unknown) => void {
  const slots = target as unknown as { [index: number]: number | bigint };
  if (dtype.bigint) return (index, element) => (slots[index] = toBigInt(element, index));
  if (dtype.name === 'float16' && target instanceof Uint16Array) {
    return (index, element) => (slots[index] = toFloat16Bits(toNumber(element, index)));
  }
  return (index, element) => (slots[index] = toNumber(element, index));
}

function toNumber(element: unknown, index: number): number {
  if (typeof element === 'number') return element;
  if (typeof element === 'bigint' || typeof element === 'boolean') return Number(element);
  throw invalidArgType(`write() element ${index} is ${describeValue(element)}, not a number`);
}

function toBigInt(element: unknown, index: number): bigint {
  if (typeof element === 'bigint') return element;
  if (typeof element === 'boolean') return element ? 1n : 0n;
  if (typeof element === 'number' && Number.isFinite(element)) return BigInt(Math.trunc(element));
  throw invalidArgValue(`write() element ${index} is ${describeValue(element)}, which a 64-bit integer cannot hold`);
}
