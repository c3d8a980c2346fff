/** The part of a frame the page draws, in a TypedArray the browser can view directly. */
import { dtypeByName, fromFloat16Bits } from 'tsshmem/internal';
import type { Dtype, NumericArray } from 'tsshmem';

export interface ShownValues {
  /** The pyshmem dtype code of `values`. */
  readonly dtypeCode: number;
  readonly values: Exclude<NumericArray, BigInt64Array | BigUint64Array>;
}

const FLOAT32_CODE = dtypeByName('float32').code;

/**
 * The first `count` elements, in the stream's own dtype where browsers have a
 * numeric TypedArray for it; int64, uint64 (bigints) and float16 (raw bits
 * without Float16Array) become float32.
 */
export function shownValues(frame: NumericArray, dtype: Dtype, count: number): ShownValues {
  const shown = frame.subarray(0, count);
  if (dtype === 'float16') {
    const bits = new Uint16Array(shown.buffer, shown.byteOffset, shown.length);
    return { dtypeCode: FLOAT32_CODE, values: Float32Array.from(bits, fromFloat16Bits) };
  }
  if (shown instanceof BigInt64Array || shown instanceof BigUint64Array) {
    return { dtypeCode: FLOAT32_CODE, values: Float32Array.from(shown, Number) };
  }
  return { dtypeCode: dtypeByName(dtype).code, values: shown };
}
