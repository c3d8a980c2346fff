// Writes frames numbered 1..count to an existing int32 stream (every element
// of frame n is n), pausing pauseMs after every pauseEvery writes, so that a
// consumer both finds writes already landed and sleeps between bursts.
// Prints "wrote N": the writes that returned.
// Usage: node wait-producer.js '{"name", "count", "pauseEvery", "pauseMs"}'
import { open } from '../../packages/tsshmem/dist/index.js';

const { name, count, pauseEvery = 0, pauseMs = 0 } = JSON.parse(process.argv[2]);
const stream = open(name);
const frame = new Int32Array(stream.size / Int32Array.BYTES_PER_ELEMENT);
const pause = new Int32Array(new SharedArrayBuffer(4));
let written = 0;
for (let n = 1; n <= count; n++) {
  stream.write(frame.fill(n));
  written++;
  if (pauseEvery > 0 && n % pauseEvery === 0) Atomics.wait(pause, 0, 0, pauseMs);
}
stream.close();
console.log(`wrote ${written}`);
