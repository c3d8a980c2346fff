// A Node peer that keeps using a stream whose data segment another process
// truncates (61-). It must survive: the operation fails with a ShmError and
// the process exits normally, reporting what it saw.
//
// Usage: node truncate_victim.js '{"name": ..., "op": "read" | "read-out" | "write" | "clear" | "read-interrupted"}'
// Prints "looping" after the first successful operation, then one JSON line
// { code, errorName, message, ops, sequence, count } when an operation throws;
// exits 2 if nothing throws within 60 s.
import { open } from '../../packages/tsshmem/dist/index.js';

const { name, op } = JSON.parse(process.argv[2]);
const stream = open(name);
const elements = stream.size / 4;
const out = new Float32Array(elements);
const frame = new Float32Array(elements).fill(7);
const operations = {
  read: () => stream.read(),
  'read-out': () => stream.read({ out }),
  'read-interrupted': () => stream.read({ allowInterrupted: true }),
  write: () => stream.write(frame),
  clear: () => stream.clear(),
};
const operation = operations[op];
const deadline = Date.now() + 60000;
let ops = 0;
try {
  while (Date.now() < deadline) {
    operation();
    if (++ops === 1) process.stdout.write('looping\n');
  }
  process.stdout.write('nothing threw\n');
  process.exit(2);
} catch (error) {
  process.stdout.write(
    JSON.stringify({
      code: error.code,
      errorName: error.name,
      message: error.message,
      ops,
      sequence: stream.writeSequence,
      count: stream.count,
    }) + '\n',
  );
}
stream.close();
