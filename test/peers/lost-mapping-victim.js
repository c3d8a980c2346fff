// A Node peer that loops over every property and method of a handle while
// another process truncates the stream's metadata or data object (66-). It
// must survive: each call returns, or throws ERR_INVALID_STREAM.
//
// Usage: node lost-mapping-victim.js '{"name"}'
// Prints "looping" after the first full round. Once a call has thrown (the
// truncation was noticed), runs one more full round and prints one JSON line
// { outcomes: { call: "ok" | code }, messages: { code: message }, liveView:
// [first, last] | null }, closes the handle and exits 0. Exits 2 if nothing
// throws within 60 s.
import { open } from '../../packages/tsshmem/dist/index.js';

const { name } = JSON.parse(process.argv[2]);
const stream = open(name);
const elements = stream.size / Float32Array.BYTES_PER_ELEMENT;
const out = new Float32Array(elements);
const frame = new Float32Array(elements).fill(3);
let liveView = null;

const calls = {
  name: () => stream.name,
  shape: () => stream.shape,
  dtype: () => stream.dtype,
  size: () => stream.size,
  gpuDevice: () => stream.gpuDevice,
  cpuMirror: () => stream.cpuMirror,
  owner: () => stream.owner,
  count: () => stream.count,
  writeTime: () => stream.writeTime,
  writeSequence: () => stream.writeSequence,
  lastReadCount: () => stream.lastReadCount,
  missedWrites: () => stream.missedWrites,
  totalMissedWrites: () => stream.totalMissedWrites,
  holdsLock: () => stream.holdsLock,
  closed: () => stream.closed,
  waitStats: () => stream.waitStats,
  toString: () => stream.toString(),
  write: () => stream.write(frame),
  next: () => stream.next({ timeout: 1000 }),
  clear: () => stream.clear(),
  readNewSync: () => stream.readNewSync({ timeout: 1000 }),
  read: () => stream.read(),
  'read({ out })': () => stream.read({ out }),
  'read({ allowInterrupted })': () => stream.read({ allowInterrupted: true }),
  lockInfo: () => stream.lockInfo(),
  'acquireSync, read({ safe: false }), release': () => {
    stream.acquireSync({ timeout: 1000 });
    try {
      const view = stream.read({ safe: false });
      liveView = [view[0], view[elements - 1]];
    } finally {
      if (stream.holdsLock) stream.release();
    }
  },
  'lock()': () => stream.lock({ timeout: 1000 }).release(),
  'acquire, release': async () => {
    await stream.acquire({ timeout: 1000 });
    stream.release();
  },
  locked: () => stream.locked(() => stream.count, { timeout: 1000 }),
  repair: () => stream.repair({ timeout: 1000 }),
};

/** One call of every property and method: "ok" or the error's code, and the messages. */
async function round(messages) {
  const outcomes = {};
  for (const [call, run] of Object.entries(calls)) {
    try {
      await run();
      outcomes[call] = 'ok';
    } catch (error) {
      outcomes[call] = error.code ?? error.name;
      messages[outcomes[call]] ??= error.message;
    }
  }
  return outcomes;
}

const deadline = Date.now() + 60000;
let rounds = 0;
for (;;) {
  const messages = {};
  const outcomes = await round(messages);
  if (Object.values(outcomes).some((outcome) => outcome !== 'ok')) {
    // The truncation has been noticed; the next round shows what every call does now.
    const after = {};
    const settled = await round(after);
    process.stdout.write(`${JSON.stringify({ firstFailures: outcomes, outcomes: settled, messages: { ...messages, ...after }, liveView })}\n`);
    break;
  }
  if (++rounds === 1) process.stdout.write('looping\n');
  if (Date.now() > deadline) {
    process.stdout.write('nothing threw\n');
    process.exit(2);
  }
}
stream.close();
