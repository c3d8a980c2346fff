// Opens the stream and waits for new writes, with next() or, with "sync":
// true, with readNewSync() (blocking the thread). For each of `frames`
// writes (default 1) prints "waiting" as the wait starts ("waiting N" for
// the Nth from 0, with more than one frame), then the first value of the
// frame it returns; with more than one frame, the handle's waitStats as a
// JSON line at the end.
// Usage: node waiting-reader.js '{"name", "sync", "frames"}'
import { open } from '../../packages/tsshmem/dist/index.js';

const { name, sync = false, frames = 1 } = JSON.parse(process.argv[2]);
const stream = open(name);
const waiting = (frame) => (frames > 1 ? `waiting ${frame}` : 'waiting');
for (let frame = 0; frame < frames; frame++) {
  if (sync) {
    console.log(waiting(frame)); // stdout to a pipe is synchronous on Linux: printed before the thread blocks
    console.log(stream.readNewSync()[0]);
  } else {
    const pending = stream.next(); // the wait is armed when next() returns
    console.log(waiting(frame));
    console.log((await pending)[0]);
  }
}
if (frames > 1) console.log(JSON.stringify(stream.waitStats));
