/**
 * The 11 dtypes of the pyshmem format (docs/format.md, "Metadata") and the
 * TypedArray that holds each.
 */
import { describeValue, invalidArgValue } from '../errors.js';

export type Dtype =
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'float16'
  | 'float32'
  | 'float64';

/**
 * A `Float16Array` (Node 24+): the runtime's own type where the TypeScript
 * lib declares it (`esnext.float16`), else the shape that tells it apart from
 * a Uint16Array, so that the types stay true whatever lib a program compiles
 * with.
 */
export type Float16ArrayOfRuntime = typeof globalThis extends { Float16Array: { prototype: infer Float16 } } ? Float16 : Float16ArrayShape;

export interface Float16ArrayShape extends Omit<Uint16Array, typeof Symbol.toStringTag> {
  readonly [Symbol.toStringTag]: 'Float16Array';
}

/**
 * The array `read()` returns for each dtype. float16: a Float16Array (numeric
 * values) on runtimes that have one, else a Uint16Array of raw IEEE
 * half-precision bits; both hold the same bytes.
 */
export interface ArrayForDtype {
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
  float16: Uint16Array | Float16ArrayOfRuntime;
  float32: Float32Array;
  float64: Float64Array;
}

export type NumericArray = ArrayForDtype[Dtype];

export interface TypedArrayConstructorOf<A extends NumericArray> {
  new (length: number): A;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): A;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
}

export interface DtypeInfo {
  readonly name: Dtype;
  readonly code: number;
  readonly itemSize: number;
  readonly ArrayType: TypedArrayConstructorOf<NumericArray>;
  /** Elements are bigint (int64, uint64). */
  readonly bigint: boolean;
  /**
   * The same bytes as a view the native addon can size. Node-API cannot name
   * Float16Array on every Node version (Node 24 leaves its type unset), so a
   * Float16Array goes to native code as a Uint16Array view.
   */
  readonly nativeView: (array: NumericArray) => ArrayBufferView;
}

const runtimeFloat16Array = (globalThis as { Float16Array?: TypedArrayConstructorOf<NumericArray> }).Float16Array;

function entry(name: Dtype, code: number, ArrayType: TypedArrayConstructorOf<NumericArray>): DtypeInfo {
  const nativeView = ArrayType === runtimeFloat16Array ? asUint16View : sameView;
  return { name, code, itemSize: ArrayType.BYTES_PER_ELEMENT, ArrayType, bigint: name.endsWith('int64'), nativeView };
}

function sameView(array: NumericArray): ArrayBufferView {
  return array;
}

function asUint16View(array: NumericArray): ArrayBufferView {
  return new Uint16Array(array.buffer, array.byteOffset, array.length);
}

/** Indexed by dtype code. */
export const DTYPES: readonly DtypeInfo[] = [
  entry('int8', 0, Int8Array),
  entry('int16', 1, Int16Array),
  entry('int32', 2, Int32Array),
  entry('int64', 3, BigInt64Array),
  entry('uint8', 4, Uint8Array),
  entry('uint16', 5, Uint16Array),
  entry('uint32', 6, Uint32Array),
  entry('uint64', 7, BigUint64Array),
  entry('float16', 8, runtimeFloat16Array ?? Uint16Array),
  entry('float32', 9, Float32Array),
  entry('float64', 10, Float64Array),
];

export const DTYPE_NAMES: readonly Dtype[] = DTYPES.map((info) => info.name);

export function dtypeByName(name: unknown): DtypeInfo {
  const info = DTYPES.find((candidate) => candidate.name === name);
  if (info === undefined) {
    throw invalidArgValue(`unknown dtype ${describeValue(name)}: use one of ${DTYPE_NAMES.join(', ')}`);
  }
  return info;
}

export function dtypeByCode(code: number): DtypeInfo | undefined {
  return Number.isInteger(code) ? DTYPES[code] : undefined;
}
