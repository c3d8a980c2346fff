/**
 * The ring section's writer and reader of a frame flow (see ring-flow-protocol.ts):
 * the writer writes frames paced at `hz` or as fast as it can for `seconds`,
 * then one END frame; the reader awaits next() until END and counts what it
 * got and what it missed. Both work on plain streams too, for comparison.
 */
import { open, RingStream } from 'tsshmem';
import { finish, partnerTimeoutMs, peerArguments, signalReady } from './peer-io.js';
import { END_FRAME, type RingFlowArguments } from './ring-flow-protocol.js';

const options = peerArguments<RingFlowArguments>();
const stream = open(options.name);
const frame = new Float32Array(stream.size / Float32Array.BYTES_PER_ELEMENT);
if (options.role === 'reader') {
  if (stream instanceof RingStream) stream.register(); // a ring's block-mode writers wait for it from now on
  signalReady();
  const into = new Float32Array(frame.length);
  let delivered = 0;
  const timeout = partnerTimeoutMs(options.seconds);
  for (;;) {
    await stream.next({ out: into, timeout });
    if (into[0] === END_FRAME) break;
    delivered++;
  }
  // The END frame is never missed (it is the last write), so every missed write is a frame.
  finish({ delivered, missed: stream.totalMissedWrites });
} else {
  signalReady();
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const start = performance.now();
  const end = start + options.seconds * 1000;
  let written = 0;
  for (let now = start; now < end; now = performance.now()) {
    if (options.hz > 0) {
      const due = start + (written * 1000) / options.hz;
      if (due > now) {
        Atomics.wait(pause, 0, 0, due - now);
        continue;
      }
    }
    frame[0] = written + 1;
    stream.write(frame, { timeout: partnerTimeoutMs(options.seconds) });
    written++;
  }
  const seconds = (performance.now() - start) / 1000;
  frame[0] = END_FRAME;
  stream.write(frame, { timeout: partnerTimeoutMs(options.seconds) });
  finish({ written, seconds });
}
