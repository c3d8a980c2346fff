// Writes constant-filled frames to an existing stream as fast as it can:
// every element of frame n is offset + (n % 100) + 1, so a snapshot of one
// whole write is uniform. Prints "writing" after the first frame. Without
// `frames` it runs until killed; with it, it stops after that many writes and
// prints "done". pauseMs: sleep that long after each write instead.
// announce: print "about to write" right before the first write call.
// Usage: node constant-writer.js '{"name", "frames"?, "offset"?, "pauseMs"?, "announce"?}'
import { open } from '../../packages/tsshmem/dist/index.js';

const { name, frames = Infinity, offset = 0, pauseMs = 0, announce = false } = JSON.parse(process.argv[2]);
const stream = open(name);
const frame = stream.read();
const fill = typeof frame[0] === 'bigint' ? (n) => BigInt(n) : (n) => n;
const pause = new Int32Array(new SharedArrayBuffer(4));
for (let n = 1; n <= frames; n++) {
  frame.fill(fill(offset + (n % 100) + 1));
  if (n === 1 && announce) console.log('about to write');
  stream.write(frame);
  if (n === 1) console.log('writing');
  if (pauseMs > 0) Atomics.wait(pause, 0, 0, pauseMs);
}
stream.close();
console.log('done');
