/**
 * The writer of the across-processes section: writes frames back to back,
 * warm-up frames first, then numbered frames for the measured seconds, then
 * the end frame.
 */
import { open } from 'tsshmem';
import { END_FRAME, type FramePeerArguments, type FrameWriterReport, WARMUP_FRAME } from './frame-protocol.js';
import { finish, peerArguments } from './peer-io.js';

const { name, warmupSeconds, seconds } = peerArguments<FramePeerArguments>();
const stream = open(name);
const frame = new Float32Array(stream.size / Float32Array.BYTES_PER_ELEMENT);
writeUntil(performance.now() + warmupSeconds * 1000, () => WARMUP_FRAME);
const started = performance.now();
let frames = 0;
writeUntil(started + seconds * 1000, () => ++frames);
const elapsed = (performance.now() - started) / 1000;
frame[0] = END_FRAME;
stream.write(frame);
stream.close();
finish({ frames, seconds: elapsed } satisfies FrameWriterReport);

function writeUntil(end: number, label: () => number): void {
  while (performance.now() < end) {
    frame[0] = label();
    stream.write(frame);
  }
}
