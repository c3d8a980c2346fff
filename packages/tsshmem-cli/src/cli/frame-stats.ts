/** Minimum, maximum and mean of one frame (watch, view). NaN elements are left out. */
import type { Dtype, NumericArray } from 'tsshmem';
import { fromFloat16Bits } from 'tsshmem/internal';

export interface FrameStats {
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

export function frameStats(frame: NumericArray, dtype: Dtype): FrameStats {
  // Without Float16Array, float16 frames hold the raw bits in a Uint16Array.
  const toNumber = dtype === 'float16' && frame instanceof Uint16Array ? fromFloat16Bits : Number;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let counted = 0;
  for (const element of frame as Iterable<number | bigint>) {
    const value = toNumber(element as number);
    if (Number.isNaN(value)) continue;
    if (value < min) min = value;
    if (value > max) max = value;
    sum += value;
    counted++;
  }
  return counted === 0 ? { min: NaN, max: NaN, mean: NaN } : { min, max, mean: sum / counted };
}
