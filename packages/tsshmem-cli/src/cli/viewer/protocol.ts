/**
 * What the server and the page say to each other over the WebSocket.
 *
 * Text messages are JSON. The server opens with `streams`; the page then sends
 * `next` for a stream whenever it has drawn that stream's last frame, and the
 * server answers each `next` with one binary frame message (or an `error`).
 *
 * A binary frame message is FRAME_HEADER_BYTES of little-endian fields (below),
 * then the shown elements as raw bytes of the TypedArray of `dtypeCode`
 * (the header length is a multiple of 8, so the page views them in place).
 * page/frame.js reads the same layout.
 */
import type { FrameStats } from '../frame-stats.js';
import type { ShownValues } from './frame-values.js';
import type { StreamLayout } from './layout.js';

export const FRAME_HEADER_BYTES = 56;

/** Byte offsets of the frame header fields. */
const Offset = {
  stream: 0, // uint32: index into the streams message
  dtypeCode: 4, // uint32: pyshmem dtype code of the elements that follow
  count: 8, // float64: completed writes to the stream when this frame was read
  writeTime: 16, // float64: UNIX seconds of that write
  dropped: 24, // float64: writes this connection skipped so far
  mean: 32, // float64: over the whole frame (all dimensions), NaN elements left out
  min: 40, // float64
  max: 48, // float64
} as const;

export interface StreamDescription extends StreamLayout {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
}

export type ServerMessage =
  | { readonly type: 'streams'; readonly maxFps: number; readonly streams: readonly (StreamDescription | FailedStream)[] }
  | { readonly type: 'error'; readonly stream: number; readonly message: string };

/** A stream that could not be opened for this page. */
export interface FailedStream {
  readonly name: string;
  readonly error: string;
}

export interface FrameInfo {
  readonly stream: number;
  readonly count: number;
  readonly writeTime: number;
  readonly dropped: number;
  readonly stats: FrameStats;
}

export function encodeFrame(info: FrameInfo, shown: ShownValues): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32LE(info.stream, Offset.stream);
  header.writeUInt32LE(shown.dtypeCode, Offset.dtypeCode);
  header.writeDoubleLE(info.count, Offset.count);
  header.writeDoubleLE(info.writeTime, Offset.writeTime);
  header.writeDoubleLE(info.dropped, Offset.dropped);
  header.writeDoubleLE(info.stats.mean, Offset.mean);
  header.writeDoubleLE(info.stats.min, Offset.min);
  header.writeDoubleLE(info.stats.max, Offset.max);
  const { values } = shown;
  return Buffer.concat([header, new Uint8Array(values.buffer, values.byteOffset, values.byteLength)]);
}

/** The stream index of a `next` request, or null for anything else. */
export function parseNextRequest(text: string): number | null {
  try {
    const message = JSON.parse(text) as { type?: unknown; stream?: unknown };
    return message.type === 'next' && Number.isSafeInteger(message.stream) ? (message.stream as number) : null;
  } catch {
    return null;
  }
}
