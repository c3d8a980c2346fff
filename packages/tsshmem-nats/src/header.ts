/**
 * The frame header: NATS message headers on every chunk (docs/bridge.md,
 * "Frame header"). The payload is the chunk's bytes and nothing else, so a
 * chunk is sent without copying it into a larger buffer.
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { DTYPE_NAMES, type Dtype } from 'tsshmem';

export const WIRE_VERSION = 1;

export const HEADER = {
  version: 'Tsshmem-Bridge',
  frame: 'Tsshmem-Frame',
  count: 'Tsshmem-Count',
  time: 'Tsshmem-Time',
  shape: 'Tsshmem-Shape',
  dtype: 'Tsshmem-Dtype',
  chunk: 'Tsshmem-Chunk',
  bytes: 'Tsshmem-Bytes',
} as const;

/** What every chunk of one frame carries. */
export interface FrameInfo {
  /** Identifies the publisher's run: frames of one run are numbered 1, 2, 3... */
  readonly run: string;
  /** The frame's number in its run; a gap means frames the subscriber did not get. */
  readonly sequence: number;
  /** The source stream's count at this frame (its write number there). */
  readonly count: number;
  /** The source's write time, UNIX seconds. */
  readonly writeTime: number;
  readonly shape: readonly number[];
  readonly dtype: Dtype;
  /** Payload bytes of the whole frame. */
  readonly bytes: number;
  readonly chunks: number;
}

export interface ChunkInfo extends FrameInfo {
  readonly index: number;
}

export function encodeHeader(frame: FrameInfo, index: number): MsgHdrs {
  const header = natsHeaders();
  header.set(HEADER.version, String(WIRE_VERSION));
  header.set(HEADER.frame, `${frame.run}/${frame.sequence}`);
  header.set(HEADER.count, String(frame.count));
  header.set(HEADER.time, String(frame.writeTime));
  header.set(HEADER.shape, frame.shape.join('x'));
  header.set(HEADER.dtype, frame.dtype);
  header.set(HEADER.chunk, `${index}/${frame.chunks}`);
  header.set(HEADER.bytes, String(frame.bytes));
  return header;
}

/** The chunk's header, or a reason why the message is not a chunk of this protocol. */
export function decodeHeader(header: MsgHdrs | undefined, payloadBytes: number): ChunkInfo | string {
  if (header === undefined) return 'no headers';
  const version = header.get(HEADER.version);
  if (version !== String(WIRE_VERSION)) return version === '' ? 'no Tsshmem-Bridge header' : `unsupported version ${JSON.stringify(version)}`;
  const frame = /^([A-Za-z0-9]+)\/(\d+)$/.exec(header.get(HEADER.frame));
  const chunk = /^(\d+)\/(\d+)$/.exec(header.get(HEADER.chunk));
  const shape = header.get(HEADER.shape).split('x').map(Number);
  const dtype = header.get(HEADER.dtype) as Dtype;
  const count = Number(header.get(HEADER.count));
  const writeTime = Number(header.get(HEADER.time));
  const bytes = Number(header.get(HEADER.bytes));
  if (frame === null || chunk === null) return 'bad frame or chunk header';
  if (!DTYPE_NAMES.includes(dtype)) return `unknown dtype ${JSON.stringify(dtype)}`;
  if (shape.length === 0 || shape.some((dimension) => !Number.isSafeInteger(dimension) || dimension < 1)) return 'bad shape';
  if (!Number.isSafeInteger(count) || !Number.isFinite(writeTime) || !Number.isSafeInteger(bytes) || bytes < 1) return 'bad count, time or size';
  const index = Number(chunk[1]);
  const chunks = Number(chunk[2]);
  if (!(chunks >= 1 && index < chunks)) return 'bad chunk index';
  if (payloadBytes > bytes) return 'chunk larger than its frame';
  return { run: frame[1] ?? '', sequence: Number(frame[2]), count, writeTime, shape, dtype, bytes, chunks, index };
}
