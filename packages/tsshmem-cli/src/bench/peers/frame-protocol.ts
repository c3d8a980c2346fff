/**
 * What the across-processes section's writer and reader agree on: element 0
 * of each frame labels it (warm-up, a measured frame's number, or the end).
 */

export const WARMUP_FRAME = 0;
export const END_FRAME = -1;

export interface FramePeerArguments {
  readonly name: string;
  readonly warmupSeconds: number;
  readonly seconds: number;
}

export interface FrameWriterReport {
  /** Measured frames written. */
  readonly frames: number;
  readonly seconds: number;
}

export interface FrameReaderReport {
  /** Measured frames seen. */
  readonly frames: number;
}
