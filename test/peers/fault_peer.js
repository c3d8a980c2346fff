// A Node peer that misbehaves on purpose, for the fault tests (60-).
//
// Usage: node fault_peer.js '{"action": ..., "name": ...}'
//   write-loop      {name}                  writes frames filled with count + 1, + 2... back to back,
//                                           forever; prints "writing" after the first
//   hold-lock       {name}                  takes the lock, prints "locked", waits forever
//   odd             {name, fill?, then}     takes the lock, then marks a write started through
//                                           the raw metadata bytes as pyshmem's
//                                           _mark_write_started does (sequence += 1, odd),
//                                           optionally overwrites the first half of the payload
//                                           with `fill` through the raw data bytes, prints "odd",
//                                           then: "wait" (forever), "exit" (process.exit, the
//                                           kernel drops the flock), "sigkill" or "sigstop"
//                                           (sent to itself)
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

import { open } from '../../packages/tsshmem/dist/index.js';
import { baseName } from '../../packages/tsshmem/dist/format/names.js';

const SEQUENCE_OFFSET = 9 * 8;
const args = JSON.parse(process.argv[2]);
const forever = () => setInterval(() => {}, 1 << 30);

const stream = open(args.name);

switch (args.action) {
  case 'write-loop': {
    const elements = stream.size / 4;
    const frames = [new Float32Array(elements), new Float32Array(elements)];
    // Frame k holds k, k counting on from the stream's count: with one writer, the count.
    const first = stream.count + 1;
    for (let k = first; ; k++) {
      const frame = frames[k % 2];
      frame.fill(k);
      stream.write(frame);
      if (k === first) process.stdout.write('writing\n');
    }
  }
  case 'hold-lock':
    stream.acquireSync();
    process.stdout.write('locked\n');
    forever();
    break;
  case 'odd': {
    stream.acquireSync();
    const base = baseName(args.name);
    const metaFd = openSync(`/dev/shm/${base}_meta`, 'r+');
    const field = Buffer.alloc(8);
    readSync(metaFd, field, 0, 8, SEQUENCE_OFFSET);
    field.writeDoubleLE(field.readDoubleLE(0) + 1);
    writeSync(metaFd, field, 0, 8, SEQUENCE_OFFSET);
    closeSync(metaFd);
    if (args.fill !== undefined) {
      const half = new Float32Array(stream.size / 4 / 2).fill(args.fill);
      const dataFd = openSync(`/dev/shm/${base}`, 'r+');
      writeSync(dataFd, new Uint8Array(half.buffer), 0, half.byteLength, 0);
      closeSync(dataFd);
    }
    process.stdout.write('odd\n');
    if (args.then === 'exit') process.exit(0);
    if (args.then === 'sigkill') process.kill(process.pid, 'SIGKILL');
    if (args.then === 'sigstop') process.kill(process.pid, 'SIGSTOP');
    forever();
    break;
  }
  default:
    throw new Error(`unknown action ${args.action}`);
}
