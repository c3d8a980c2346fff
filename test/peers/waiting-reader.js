// Opens the stream and waits for one new write, with next() or, with
// "sync": true, with readNewSync() (blocking the thread). Prints "waiting" as
// the wait starts, then the first value of the frame it returns.
// Usage: node waiting-reader.js '{"name", "sync"}'
import { open } from '../../packages/tsshmem/dist/index.js';

const { name, sync = false } = JSON.parse(process.argv[2]);
const stream = open(name);
if (sync) {
  console.log('waiting'); // stdout to a pipe is synchronous on Linux: printed before the thread blocks
  console.log(stream.readNewSync()[0]);
} else {
  const pending = stream.next();
  console.log('waiting');
  console.log((await pending)[0]);
}
