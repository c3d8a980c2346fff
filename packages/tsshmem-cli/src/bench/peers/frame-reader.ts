/** The reader of the across-processes section: awaits each next frame until the end frame and counts the measured ones. */
import { open } from 'tsshmem';
import { END_FRAME, type FramePeerArguments, type FrameReaderReport, WARMUP_FRAME } from './frame-protocol.js';
import { finish, partnerTimeoutMs, peerArguments, signalReady } from './peer-io.js';

const { name, warmupSeconds, seconds } = peerArguments<FramePeerArguments>();
const stream = open(name);
const frame = new Float32Array(stream.size / Float32Array.BYTES_PER_ELEMENT);
const timeout = partnerTimeoutMs(warmupSeconds + seconds);
signalReady();
let frames = 0;
for (;;) {
  await stream.next({ out: frame, timeout });
  const label = frame[0]!;
  if (label === END_FRAME) break;
  if (label !== WARMUP_FRAME) frames++;
}
stream.close();
finish({ frames } satisfies FrameReaderReport);
