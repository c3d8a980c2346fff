// Run with --expose-gc. The native write and read of a handle are functions
// of their own (src/native/stream.cc, BindFrameFunctions), which JavaScript
// can keep longer than the NativeStream. This keeps them, lets the
// NativeStream be collected without close(), then reads the frame the test
// wrote and writes a frame of 7s through them; then closes a second
// NativeStream and calls its read. Prints what each step gave, as JSON.
// Usage: node --expose-gc kept-frame-functions.js '{"name"}'
import { setImmediate as tick } from 'node:timers/promises';

import { locateByName } from '../../packages/tsshmem/dist/format/names.js';
import { Status } from '../../packages/tsshmem/dist/native/binding.js';
import { openSegments } from '../../packages/tsshmem/dist/stream/segments.js';

const { name } = JSON.parse(process.argv[2]);
const location = locateByName(name);
let collected = false;
const registry = new FinalizationRegistry(() => (collected = true));

function keepFrameFunctions() {
  const { native, header } = openSegments(location);
  registry.register(native, 'native stream');
  return { write: native.write, read: native.read, elements: header.size / Float32Array.BYTES_PER_ELEMENT };
}

const { write, read, elements } = keepFrameFunctions();
for (let round = 0; round < 100 && !collected; round++) {
  globalThis.gc();
  await tick();
}
// Node-API finalizers may run a turn after the FinalizationRegistry's.
globalThis.gc();
await tick();
const frame = new Float32Array(elements);
const count = read(frame, -1);
const readBack = { count, first: frame[0], last: frame[elements - 1] };
// -1: write as if holding the lock; the test process does not write meanwhile.
const published = write(new Float32Array(elements).fill(7), -1) === Status.PUBLISHED;

const closedStream = openSegments(location).native;
const closedRead = closedStream.read;
closedStream.close();
let closedError = null;
try {
  closedRead(frame, -1);
} catch (error) {
  closedError = error.message;
}
console.log(JSON.stringify({ collected, readBack, published, closedError }));
